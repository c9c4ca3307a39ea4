package processor

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/secret"
	"github.com/payrun/payrun/internal/testutil"
)

func TestIdempotencyKeys(t *testing.T) {
	const b = "b0123456789abcdef0123"
	tests := []struct{ got, want string }{
		{createKey(b, 7, 1), b + "/7/a1/create"},
		{startKey(b, 7, 2), b + "/7/a2/start"},
		{transferKey(b, 7, 3), b + "/7/a3/init"},
		{singleKey(b, 7, 0), b + "/7/init"},
		{singleKey(b, 7, 2), b + "/7/a2/init"},
		{confirmKey(b, 7, "ps_1"), b + "/7/ps_1/confirm"},
		{cancelKey(b, 7, "ps_1"), b + "/7/ps_1/cancel"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, tt.got)
	}
}

func transferRowOf(amount money.Amount, typ payout.TransferType) *payout.Row {
	return &payout.Row{Batch: "b0123456789abcdef0123", Index: 3, Reference: "T-3", Method: payout.MethodTransfer, Amount: amount,
		Transfer: &payout.Transfer{Country: typ.Country(), Type: typ, IBAN: "TR330006100519786457841326", RecipientCardToken: "tok_r",
			SenderCardToken: "tok_s", RecipientFirstName: "Ayse", RecipientLastName: "Demir", RecipientCitizenship: "TUR",
			SenderFirstName: "Иван", SenderLastName: "Иванов", SenderBirthDate: "1985-03-14", SenderCitizenship: "RUS",
			SenderDocNumber: "4510 123456", SenderDocIssueDate: "2015-04-20", SenderPhone: "+79161234567",
			SenderCountry: "RUS", SenderCity: "Москва", SenderBuilding: "1", SourceOfMoney: "salary"}}
}

func TestCalculation(t *testing.T) {
	tests := []struct {
		name     string
		amount   money.Amount
		typ      payout.TransferType
		src, dst string // "given:<minor>" or "compute"
		err      string
	}{
		{"forward RUB to TRY", money.New(2500000, "RUB"), payout.TransferIBAN, `{"amount":2500000,"currency":"RUB"}`, `{"amount":null,"currency":"TRY"}`, ""},
		{"reverse USD cash", money.New(30000, "USD"), payout.TransferCash, `{"amount":null,"currency":"RUB"}`, `{"amount":30000,"currency":"USD"}`, ""},
		{"reverse KGS card", money.New(1500000, "KGS"), payout.TransferCard, `{"amount":null,"currency":"RUB"}`, `{"amount":1500000,"currency":"KGS"}`, ""},
		{"wrong currency", money.New(100, "EUR"), payout.TransferCash, "", "", "transfer in EUR cannot pay out USD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := calculation(transferRowOf(tt.amount, tt.typ))
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			src, _ := json.Marshal(c.Amounts.Source)
			dst, _ := json.Marshal(c.Amounts.Destination)
			require.JSONEq(t, tt.src, string(src))
			require.JSONEq(t, tt.dst, string(dst))
		})
	}
}

func TestTransferRequest(t *testing.T) {
	tests := []struct {
		typ  payout.TransferType
		kind string
	}{
		{payout.TransferCash, "moneysend"},
		{payout.TransferIBAN, "bank_account/iban"},
		{payout.TransferCard, "card/tokenized_card"},
	}
	for _, tt := range tests {
		t.Run(string(tt.typ), func(t *testing.T) {
			req, err := transferRequest(transferRowOf(money.New(100000, "RUB"), tt.typ))
			require.NoError(t, err)
			require.Equal(t, tt.kind, req.PayoutDetailsMulti[0].Kind())
			require.Equal(t, tt.typ.Country(), req.PayoutDetailsMulti[0].Country)
			require.Equal(t, "card/tokenized_card", req.PaymentDetailsMulti[0].Kind(), "the sender's card is debited")
			require.Equal(t, "1985-03-14", req.ParticipantDetails.Sender.DateOfBirth)
			require.Equal(t, "salary", req.SourceOfMoney.Source)
			ref, err := payout.ParseBankRef(req.Metadata)
			require.NoError(t, err)
			require.Equal(t, payout.BankRef{Batch: "b0123456789abcdef0123", Row: 3, Reference: "T-3"}, ref)
		})
	}
}

func TestDomesticMethodOpensTheCardOnlyWithTheKey(t *testing.T) {
	sealer, opener := testutil.Keys(t)
	env, err := sealer.Begin()
	require.NoError(t, err)
	row := &payout.Row{Batch: "b0123456789abcdef0123", Index: 1, Method: payout.MethodCard,
		Card: &payout.Card{Sealed: env.Seal("4242424242424242", "b0123456789abcdef0123/1"), BIN: "424242", Last4: "4242"}}
	m, err := domesticMethod(row, opener)
	require.NoError(t, err)
	require.Equal(t, "4242424242424242", m.Card.BankCard.Number)

	_, err = domesticMethod(row, nil)
	require.ErrorContains(t, err, "this processor has no card key to open the card number (started with --no-card-rows)")
	_, other := testutil.Keys(t)
	_, err = domesticMethod(row, other)
	require.ErrorContains(t, err, "open card number: cannot open sealed value: sealed to card key "+sealer.KeyID())
	require.ErrorIs(t, err, secret.ErrOpen)
	row.Index = 2 // sealed for row 1: the associated data does not match
	_, err = domesticMethod(row, opener)
	require.ErrorIs(t, err, secret.ErrOpen)
}

func TestObserve(t *testing.T) {
	w, err := bank131.ParseWebhook([]byte(`{"type":"ready_to_confirm","session":{"id":"ps_1","status":"in_progress",
		"payments":[{"id":"po_1","status":"pending","amount_details":{"amount":131426,"currency":"try"},
		"payment_method":{"type":"card","card":{"last4":"4242"}},
		"participant_details":{"recipient":{"full_name":"Ayse Demir"}}}]},
		"confirm_information":{"exchanges":[{"id":"pm_1","source":{"amount":357913,"currency":"RUB"},
		"destination":{"amount":131426,"currency":"TRY"},"fx_rate":"0.3672","commission":{"amount":3580,"currency":"RUB"}}]}}`))
	require.NoError(t, err)
	o := observe(event{session: w.Session, confirmInfo: w.ConfirmInformation})
	require.Equal(t, money.New(131426, "TRY"), o.Amount)
	require.Equal(t, "4242", o.Last4)
	require.Equal(t, "Ayse Demir", o.Recipient)
	require.Equal(t, "0.3672", o.FXRate)
	require.Equal(t, money.New(357913, "RUB"), *o.Source)
	require.Equal(t, money.New(131426, "TRY"), *o.Destination)
	require.Equal(t, money.New(3580, "RUB"), *o.Commission)
}

func TestBackoff(t *testing.T) {
	for n, want := range map[uint64]string{1: "1s", 2: "2s", 3: "4s", 6: "32s", 9: "32s"} {
		require.Equal(t, want, backoff(n).String())
	}
}

// The sender as seed 003 documents it: a Russian citizen's passport with
// the documented id_type and the number without spaces; a foreign
// citizen's own document in documents_foreigner; the four phone fields.
func TestTransferSender(t *testing.T) {
	ru := transferRowOf(money.New(100000, "RUB"), payout.TransferCash)
	ru.Transfer.RecipientPhone = "+90 532 123 45 67"
	req, err := transferRequest(ru)
	require.NoError(t, err)
	b, err := json.Marshal(req.ParticipantDetails)
	require.NoError(t, err)
	require.JSONEq(t, `{"id_type":"Паспорт гражданина Российской Федерации","id_number":"4510123456","issue_date":"2015-04-20"}`,
		string(mustJSON(t, req.ParticipantDetails.Sender.IdentityDocument)))
	require.Nil(t, req.ParticipantDetails.Sender.DocumentsForeigner)
	require.JSONEq(t, `{"full_number":"+79161234567","country_iso3":"RUS","operator_code":"916","short_number":"1234567"}`,
		string(mustJSON(t, req.ParticipantDetails.Sender.Contacts.Phone)))
	require.JSONEq(t, `{"full_number":"+905321234567","country_iso3":"TUR","operator_code":"532","short_number":"1234567"}`,
		string(mustJSON(t, req.ParticipantDetails.Recipient.Contacts.Phone)))
	require.Contains(t, string(b), "Паспорт гражданина", "written as UTF-8, not escaped")

	foreign := transferRowOf(money.New(100000, "RUB"), payout.TransferCash)
	ft := foreign.Transfer
	ft.SenderCitizenship, ft.SenderDocNumber, ft.SenderDocIssueDate = "AUS", "", ""
	ft.SenderForeignDocNumber, ft.SenderForeignDocValidFrom, ft.SenderForeignDocValidTo, ft.SenderForeignDocType =
		"PA 123 4567", "2020-01-01", "2030-01-01", "Виза"
	req, err = transferRequest(foreign)
	require.NoError(t, err)
	require.Nil(t, req.ParticipantDetails.Sender.IdentityDocument, "no Russian passport, none sent")
	require.JSONEq(t, `{"id_type":"Виза","id_number":"PA1234567","issue_date":"2020-01-01","id_expiration_date":"2030-01-01"}`,
		string(mustJSON(t, req.ParticipantDetails.Sender.DocumentsForeigner)))
	require.Equal(t, "AUS", req.ParticipantDetails.Sender.CitizenshipCountryISO3)

	ft.SenderPhone = "+442071234567"
	_, err = transferRequest(foreign)
	require.ErrorContains(t, err, "sender_phone")
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}
