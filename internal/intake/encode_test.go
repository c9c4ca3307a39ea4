package intake

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/batch"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
)

// samplePath is the sample payroll file of the repository.
const samplePath = "../../samples/payroll.csv"

func testNow() time.Time { return time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC) }

// stdJSON is the row as encoding/json writes it without HTML escaping.
func stdJSON(t *testing.T, row *payout.Row) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(row))
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// fill sets every field reachable from v: strings to s, ints to n,
// pointers to new values, maps to two entries.
func fill(v reflect.Value, s string, n int64) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Int, reflect.Int64:
		v.SetInt(n)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), s, n)
	case reflect.Struct:
		for i := range v.NumField() {
			fill(v.Field(i), s, n)
		}
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		m.SetMapIndex(reflect.ValueOf("b"+s), reflect.ValueOf(s))
		m.SetMapIndex(reflect.ValueOf("a"), reflect.ValueOf("x"))
		v.Set(m)
	default:
		panic("fill: unhandled kind " + v.Kind().String())
	}
}

func TestAppendRowMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"plain", `q"uo\te`, "line\nbreak\r\ttab\x01\x1f", "<&> Иванов \u2028\u2029 ✓", "bad\xffutf8"} {
		var row payout.Row
		fill(reflect.ValueOf(&row).Elem(), s, -42)
		require.Equal(t, string(stdJSON(t, &row)), string(AppendRow(nil, &row)), "%q", s)
	}
	var empty payout.Row
	require.Equal(t, string(stdJSON(t, &empty)), string(AppendRow(nil, &empty)))

	data, err := os.ReadFile(samplePath)
	require.NoError(t, err)
	for row, err := range batch.Rows(bytes.NewReader(data), batch.Options{Now: testNow}, func(pan string, r int) string { return "sealed" }) {
		require.NoError(t, err)
		row.Batch = "b0123456789abcdef0123"
		require.Equal(t, string(stdJSON(t, row)), string(AppendRow(nil, row)))
	}
}

func BenchmarkEncodeRow(b *testing.B) {
	var row payout.Row
	fill(reflect.ValueOf(&row).Elem(), "Иванов Иван", 12345)
	row.Meta = nil
	row.Transfer = nil
	buf := make([]byte, 0, 2048)
	b.Run("append", func(b *testing.B) {
		for b.Loop() {
			buf = AppendRow(buf[:0], &row)
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			json.Marshal(&row)
		}
	})
}

// BenchmarkDecodeRow compares DecodeRow with goccy/go-json's and
// encoding/json's decode of the same messages: a card row as the intake
// carries most (read by decodeCanonical) and a row of the sample file with
// escaped text and metadata (read by goccy/go-json).
func BenchmarkDecodeRow(b *testing.B) {
	escaped, err := os.ReadFile(filepath.Join("testdata", "golden", "row_card.json"))
	if err != nil {
		b.Fatal(err)
	}
	card := AppendRow(nil, &payout.Row{Batch: "b0123456789abcdef0123", Index: 4711, Line: 4712, Reference: "E-0004711",
		Method: payout.MethodCard, Amount: money.New(150000, "RUB"), FullName: "Иван Петров",
		Card:   &payout.Card{Sealed: strings.Repeat("c2VhbGVk", 40), BIN: "424242", Last4: "4242", Fingerprint: strings.Repeat("ab", 16)},
		Digest: strings.Repeat("cd", 32)})
	for _, m := range []struct {
		name string
		data []byte
	}{{"card", card}, {"escaped", escaped}} {
		for _, d := range []struct {
			name   string
			decode func([]byte) (*RowMessage, error)
		}{
			{"DecodeRow", DecodeRow},
			{"goccy", func(b []byte) (*RowMessage, error) { return decodeRowWith(gojson.Unmarshal, b) }},
			{"encoding-json", func(b []byte) (*RowMessage, error) { return decodeRowWith(json.Unmarshal, b) }},
		} {
			b.Run(m.name+"/"+d.name, func(b *testing.B) {
				for b.Loop() {
					if _, err := d.decode(m.data); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestWriteDigestInput holds WriteDigestInput and AppendDigest to what
// AppendDigestInput and AppendRow write, for every row of the golden files,
// the sample file and a row with every field filled.
func TestWriteDigestInput(t *testing.T) {
	var rows []*payout.Row
	for _, r := range goldenRows() {
		rows = append(rows, r)
	}
	data, err := os.ReadFile(samplePath)
	require.NoError(t, err)
	for row, err := range batch.Rows(bytes.NewReader(data), batch.Options{Now: testNow}, func(pan string, r int) string {
		return "hpke1:0123456789abcdef:ZW5j:Y3Q="
	}) {
		require.NoError(t, err)
		r := *row
		if r.Card != nil {
			c := *r.Card
			c.Fingerprint = "0123456789abcdef0123456789abcdef"
			r.Card = &c
		}
		rows = append(rows, &r)
	}
	for _, s := range []string{"plain", `q"uo\te,"card":{"sealed":"x`, "<&> Иванов \u2028"} {
		var row payout.Row
		fill(reflect.ValueOf(&row).Elem(), s, 7)
		rows = append(rows, &row)
	}
	for i, r := range rows {
		const pan = "4111111111111111"
		digest := r.Digest
		plain := *r
		plain.Digest = ""
		msg := AppendRow(nil, &plain)
		var got bytes.Buffer
		require.True(t, WriteDigestInput(&got, msg, pan), "row %d", i)
		require.Equal(t, string(AppendDigestInput(nil, r, pan)), got.String(), "row %d", i)

		if len(digest) != 64 {
			digest = strings.Repeat("ab", 32) // ingest's are 64 hex characters
		}
		with := plain
		with.Digest = digest
		require.Equal(t, string(AppendRow(nil, &with)), string(AppendDigest(msg, digest)), "row %d", i)
		var sum [32]byte
		for j := range sum {
			sum[j] = byte(i + 7*j)
		}
		with.Digest = hex.EncodeToString(sum[:])
		require.Equal(t, string(AppendRow(nil, &with)), string(AppendDigestSum(bytes.Clone(msg), sum)), "row %d", i)
		require.False(t, WriteDigestInput(&got, AppendRow(nil, &with), pan), "row %d: a message with a digest", i)
	}
}
