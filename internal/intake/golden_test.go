package intake

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
)

// goldenRows are the row messages whose bytes testdata/golden holds: one
// per method and transfer type, with every optional field, escapes, non-ASCII
// text and metadata.
func goldenRows() map[string]*payout.Row {
	const batch = "b0123456789abcdef0123"
	return map[string]*payout.Row{
		"row_card": {Batch: batch, Index: 1, Line: 2, Reference: "E-1", Method: payout.MethodCard,
			Amount: money.New(150000, "RUB"), Description: "Зарплата за ноябрь\n<премия> & \"бонус\"",
			Email: "ivan@example.com", Phone: "+79161234567", FullName: "Иван Петров",
			Card: &payout.Card{Sealed: "c2VhbGVkLWNhcmQtbnVtYmVy", BIN: "424242", Last4: "4242"},
			Meta: map[string]string{"employee": "17", "dept": "ops \"north\"\\south", "note": "tab\there\u2028\x01", "cost_center": "<&>"}},
		// A card row as ingest writes it since public-key sealing: the
		// number sealed to a key id, the card's fingerprint, the row's
		// keyed digest.
		"row_card_digest": {Batch: batch, Index: 6, Line: 8, Reference: "E-6", Method: payout.MethodCard,
			Amount: money.New(250000, "RUB"), FullName: "Пётр Сидоров",
			Card: &payout.Card{Sealed: "hpke1:3f9a8b7c6d5e4f30:ZW5jYXBzdWxhdGVkLWtleQ==:bm9uY2UtYW5kLWNpcGhlcnRleHQ=", BIN: "411111",
				Last4: "1111", Fingerprint: "0123456789abcdef0123456789abcdef"},
			Meta:   map[string]string{"employee": "18"},
			Digest: "9c4f2b7d1e0a5c3b8f6d4e2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c"},
		"row_token": {Batch: batch, Index: 2, Line: 3, Reference: "E-2", Method: payout.MethodToken,
			Amount: money.New(1, "RUB"), CardToken: "tok_3f9a8b7c", FullName: "Anna Smith"},
		"row_encrypted_card": {Batch: batch, Index: 3, Line: 5, Reference: "E-3", Method: payout.MethodEncryptedCard,
			Amount: money.New(99, "RUB"), Encrypted: &payout.EncryptedCard{NumberHash: "nh-1", ExpirationDateHash: "eh-1",
				CardholderNameHash: "ch-1", SecurityCodeHash: "sh-1"}},
		"row_transfer_iban": {Batch: batch, Index: 4, Line: 6, Reference: "E-4", Method: payout.MethodTransfer,
			Amount: money.New(500000, "RUB"), Transfer: &payout.Transfer{Country: "TUR", Type: payout.TransferIBAN,
				IBAN: "TR33 0006 1005 1978 6457 8413 26", SenderCardToken: "tok_sender", RecipientFirstName: "Ayşe",
				RecipientLastName: "Yılmaz", RecipientCitizenship: "TUR", RecipientPhone: "+905321234567",
				SenderFirstName: "Иван", SenderLastName: "Петров", SenderMiddleName: "Сергеевич",
				SenderBirthDate: "1985-03-14", SenderCitizenship: "RUS", SenderDocNumber: "4510 123456",
				SenderDocIssueDate: "2010-05-20", SenderDocIssuedBy: "ОВД Тверского района", SenderDocDivision: "770-001",
				SenderPhone: "+79161234567", SenderCountry: "RUS", SenderCity: "Москва", SenderBuilding: "1",
				SenderPostalCode: "125009", SenderState: "Москва", SenderStreet: "Тверская", SenderFlat: "12",
				SourceOfMoney: "salary"}},
		"row_transfer_card": {Batch: batch, Index: 5, Line: 7, Reference: "E-5", Method: payout.MethodTransfer,
			Amount: money.New(700000, "KGS"), Transfer: &payout.Transfer{Country: "KGZ", Type: payout.TransferCard,
				RecipientCardToken: "rct_1", SenderCardToken: "tok_sender", RecipientCitizenship: "KGZ",
				SenderFirstName: "Ivan", SenderLastName: "Petrov", SenderBirthDate: "1985-03-14", SenderCitizenship: "RUS",
				SenderDocNumber: "4510123456", SenderDocIssueDate: "2010-05-20", SenderPhone: "+79161234567",
				SenderCountry: "RUS", SenderCity: "Moscow", SenderBuilding: "1"}},
	}
}

// goldenManifests are the manifests whose bytes testdata/golden holds.
func goldenManifests() map[string]*payout.Manifest {
	sched := time.Date(2026, 12, 25, 9, 0, 0, 0, time.FixedZone("", 3*3600))
	const fileSHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	const rowsSHA = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
	return map[string]*payout.Manifest{
		"manifest": {Batch: "b0123456789abcdef0123", Name: "Payroll <November> & bonus", FileName: "payroll.csv",
			FileSHA256: fileSHA, Rows: 5, Totals: money.Totals{"RUB": 650100, "KGS": 700000}, RowsSHA256: rowsSHA,
			ScheduleAt: &sched, RequireApproval: true, CreatedAt: time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)},
		"manifest_minimal": {Batch: "b0123456789abcdef0123", FileName: "upload.csv", FileSHA256: fileSHA, Rows: 1,
			Totals: money.Totals{"RUB": 1}, RowsSHA256: rowsSHA, CreatedAt: time.Date(2026, 11, 30, 10, 0, 0, 123456789, time.UTC)},
	}
}

func golden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "golden", name+".json"))
	require.NoError(t, err)
	return b
}

// TestRowGolden holds the row message to its bytes: the files were written
// by the encoder every stream so far was written with, so a message of an
// existing stream still decodes to the same row and a re-ingest writes the
// same bytes.
func TestRowGolden(t *testing.T) {
	for name, row := range goldenRows() {
		t.Run(name, func(t *testing.T) {
			want := golden(t, name)
			require.Equal(t, string(want), string(EncodeRow(row)))

			m, err := DecodeRow(want)
			require.NoError(t, err)
			meta, err := DecodeMeta(m.Meta)
			require.NoError(t, err)
			require.Equal(t, row.Meta, meta)
			got := m.Row
			require.Nil(t, got.Meta)
			got.Meta = meta
			require.Equal(t, *row, got)
			// The meta object is kept byte for byte.
			if len(row.Meta) > 0 {
				require.Regexp(t, `"meta":`+regexp.QuoteMeta(string(m.Meta))+`[,}]`, string(want))
			}
		})
	}
}

func TestManifestGolden(t *testing.T) {
	for name, man := range goldenManifests() {
		t.Run(name, func(t *testing.T) {
			want := golden(t, name)
			got, err := EncodeManifest(man)
			require.NoError(t, err)
			require.Equal(t, string(want), string(got))

			back, err := DecodeManifest(want)
			require.NoError(t, err)
			require.True(t, man.CreatedAt.Equal(back.CreatedAt))
			back.CreatedAt = man.CreatedAt
			if man.ScheduleAt != nil {
				require.True(t, man.ScheduleAt.Equal(*back.ScheduleAt))
				back.ScheduleAt = man.ScheduleAt
			}
			require.Equal(t, man, back)
		})
	}
}

func TestDecodeRowRefuses(t *testing.T) {
	const ok = `"batch":"b0123456789abcdef0123","row":1,"method":"card","amount":{"minor":5,"currency":"RUB"}`
	tests := []struct{ data, want string }{
		{``, "row message is not JSON"},
		{`[]`, "row message is not JSON"},
		{`{"batch":1}`, "row message is not JSON"},
		{`{"batch":"b0123456789abcdef0123","row":"1"}`, "row message is not JSON"},
		{`{}`, "row message has no valid batch id"},
		{`{"batch":"b-0123","row":1}`, "row message has no valid batch id"},
		{`{"batch":"b0123456789abcdef0123","amount":{"minor":5,"currency":"RUB"}}`, "row message of b0123456789abcdef0123 has no row number"},
		{`{"batch":"b0123456789abcdef0123","row":2,"amount":{"minor":0,"currency":"RUB"}}`, "row b0123456789abcdef0123/2 has no positive amount"},
		{`{"batch":"b0123456789abcdef0123","row":2,"amount":{"minor":5}}`, "row b0123456789abcdef0123/2 has no positive amount"},
		{`{"batch":"b0123456789abcdef0123","row":3,"amount":{"minor":5,"currency":"RUB"}}`, "row b0123456789abcdef0123/3 has no known method"},
		{`{"batch":"b0123456789abcdef0123","row":3,"method":"","amount":{"minor":5,"currency":"RUB"}}`, "row b0123456789abcdef0123/3 has no known method"},
		{`{"batch":"b0123456789abcdef0123","row":3,"method":"CARD","amount":{"minor":5,"currency":"RUB"}}`, "row b0123456789abcdef0123/3 has no known method"},
		{`{"batch":"b0123456789abcdef0123","row":3,"method":"sbp","amount":{"minor":5,"currency":"RUB"}}`, "row b0123456789abcdef0123/3 has no known method"},
		{`{` + ok + `,"meta":[1]}`, "row b0123456789abcdef0123/1: meta is not an object"},
		{`{` + ok + `,"meta":"a"}`, "row b0123456789abcdef0123/1: meta is not an object"},
	}
	for _, tt := range tests {
		_, err := DecodeRow([]byte(tt.data))
		require.ErrorContains(t, err, tt.want, "%s", tt.data)
	}
	for _, meta := range []string{`null`, `{}`, ` {} `} {
		m, err := DecodeRow([]byte(`{` + ok + `,"meta":` + meta + `}`))
		require.NoError(t, err, meta)
		require.Nil(t, m.Meta, meta)
	}
}

func TestDecodeMeta(t *testing.T) {
	tests := []struct {
		in   string
		want map[string]string
	}{
		{``, nil},
		{`null`, nil},
		{`{}`, nil},
		{`{"a":"b","c":"d \"e\""}`, map[string]string{"a": "b", "c": `d "e"`}},
		{`{"n":17,"t":true,"o":{"x":[1, 2]}}`, map[string]string{"n": "17", "t": "true", "o": `{"x":[1, 2]}`}},
	}
	for _, tt := range tests {
		got, err := DecodeMeta([]byte(tt.in))
		require.NoError(t, err, tt.in)
		require.Equal(t, tt.want, got, tt.in)
	}
	for _, bad := range []string{`[1]`, `"a"`, `{"a":`} {
		_, err := DecodeMeta([]byte(bad))
		require.Error(t, err, bad)
	}
}

func TestDecodeManifestRefuses(t *testing.T) {
	_, err := DecodeManifest([]byte(`{"batch":`))
	require.ErrorContains(t, err, "manifest is not JSON")
	_, err = DecodeManifest([]byte(`{"batch":"b-1","rows":1}`))
	require.ErrorContains(t, err, "manifest has no valid batch id")
	b, err := json.Marshal(payout.Manifest{Batch: "b0123456789abcdef0123"})
	require.NoError(t, err)
	_, err = DecodeManifest(b)
	require.NoError(t, err)
}

// TestDigestInput: the digest covers the row message with the card number
// in plaintext, and nothing of the digest or the fingerprint; old messages
// (no digest) decode as before.
func TestDigestInput(t *testing.T) {
	row := goldenRows()["row_card_digest"]
	const pan = "4111111111111111"
	got := string(AppendDigestInput(nil, row, pan))
	plain := *row
	plain.Digest = ""
	plain.Card = &payout.Card{Sealed: pan, BIN: row.Card.BIN, Last4: row.Card.Last4}
	require.Equal(t, string(EncodeRow(&plain)), got)
	require.NotContains(t, got, "digest")
	require.NotContains(t, got, "fingerprint")
	require.NotContains(t, got, "hpke1")
	require.Equal(t, "hpke1:3f9a8b7c6d5e4f30:ZW5jYXBzdWxhdGVkLWtleQ==:bm9uY2UtYW5kLWNpcGhlcnRleHQ=", row.Card.Sealed, "the row is not changed")

	// The same row sealed anew (another ciphertext) has the same input.
	again := *row
	c := *row.Card
	c.Sealed, c.Fingerprint = "hpke1:3f9a8b7c6d5e4f30:b3RoZXI=:b3RoZXI=", "ffffffffffffffffffffffffffffffff"
	again.Card, again.Digest = &c, "00"
	require.Equal(t, got, string(AppendDigestInput(nil, &again, pan)))
	// Any other field changes it.
	other := *row
	other.Amount.Minor++
	require.NotEqual(t, got, string(AppendDigestInput(nil, &other, pan)))
	require.NotEqual(t, got, string(AppendDigestInput(nil, row, "4242424242424242")))

	// A row without a card: its message without the digest.
	tok := goldenRows()["row_token"]
	require.Equal(t, string(golden(t, "row_token")), string(AppendDigestInput(nil, tok, "")))

	// An old message has no digest and no fingerprint.
	m, err := DecodeRow(golden(t, "row_card"))
	require.NoError(t, err)
	require.Empty(t, m.Digest)
	require.Empty(t, m.Card.Fingerprint)
}
