package intake

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	gojson "github.com/goccy/go-json"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/payout"
)

// goldenSeeds adds every golden message to the corpus.
func goldenSeeds(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "row_*.json"))
	require.NoError(f, err)
	require.NotEmpty(f, files)
	for _, p := range files {
		b, err := os.ReadFile(p)
		require.NoError(f, err)
		f.Add(b)
	}
}

// FuzzDecodeRow holds DecodeRow (goccy/go-json, or decodeCanonical for
// a message as AppendRow writes it) and the goccy path alone to the answers
// encoding/json gives: the same messages accepted, read the same way.
func FuzzDecodeRow(f *testing.F) {
	goldenSeeds(f)
	const ok = `"batch":"b0123456789abcdef0123","row":1,"amount":{"minor":5,"currency":"RUB"}`
	for _, s := range []string{``, `{}`, `null`, `[]`, `{` + ok + `,"meta":null}`, `{` + ok + `,"meta":[1]}`,
		`{` + ok + `,"meta":{"a":"b"},"x":1}`, `{` + ok + `,"meta":{ "a" : "b" } }`, `{` + ok + `,"row":"1"}`,
		`{` + ok + `,"row":1e3}`, `{"batch":1}`, `{` + ok + `,"card":{"bin":"424242","last4":"4242"},"card":null}`,
		`{` + ok + `,"BATCH":"b0123456789abcdef0124"}`, `{` + ok + `,"reference":"\ud800"}`} {
		f.Add([]byte(s))
	}
	const canon = `{"batch":"b0123456789abcdef0123","row":7,"line":8,"reference":"R-1","method":"card","amount":{"minor":5,"currency":"RUB"}`
	for _, s := range []string{canon + `}`, canon + `,"full_name":"Анна","card":{"sealed":"s","bin":"424242","last4":"4242","fingerprint":"f"},"meta":{"a":"1","b":"2"},"digest":"d"}`,
		canon + `,"card_token":"t"}`, canon + `,"description":""}`, canon + `,"meta":{"b":"1","a":"2"}}`, canon + `,"meta":{"a":"1","a":"2"}}`,
		canon + `,"meta":{}}`, canon + `} `, canon + ",\"reference\":\"bad\xff\"}", strings.Replace(canon, `"row":7`, `"row":07`, 1) + `}`,
		strings.Replace(canon, `"row":7`, `"row":-7`, 1) + `}`, strings.Replace(canon, `"minor":5`, `"minor":99999999999999999999`, 1) + `}`,
		strings.Replace(canon, `"minor":5`, `"minor":0`, 1) + `}`, strings.Replace(canon, `"R-1"`, `"R\"1"`, 1) + `}`,
		strings.Replace(canon, `"R-1"`, "\"R\t1\"", 1) + `}`, canon + `,"card":{"sealed":"s","bin":"4","last4":"2","fingerprint":""}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		want, wantErr := decodeRowWith(json.Unmarshal, data)
		for name, decode := range map[string]func([]byte) (*RowMessage, error){
			"DecodeRow": DecodeRow,
			"goccy":     func(b []byte) (*RowMessage, error) { return decodeRowWith(gojson.Unmarshal, b) },
		} {
			got, err := decode(data)
			if wantErr != nil {
				if err == nil {
					t.Fatalf("%s accepted %q, encoding/json said %v", name, data, wantErr)
				}
				continue
			}
			require.NoError(t, err, "%s: encoding/json accepted %q", name, data)
			require.Equal(t, want, got, name)
		}
	})
}

// TestDecodeCanonical checks that the rows the intake carries most, card
// and token rows with any field set, as AppendRow writes them, are read
// without the JSON decoder, the same as encoding/json reads them; and that
// a row with an escaped character, an encrypted card or a transfer is left
// to the JSON decoder.
func TestDecodeCanonical(t *testing.T) {
	for _, s := range []string{"x", "Анна Петрова", "a b/c:d <&>", `back\slash`, "line\u2028sep", `q"uote`} {
		for _, method := range []payout.Method{payout.MethodCard, payout.MethodToken} {
			var row payout.Row
			fill(reflect.ValueOf(&row).Elem(), s, 3)
			row.Method, row.Encrypted, row.Transfer = method, nil, nil
			row.Batch, row.Amount.Currency = "b0123456789abcdef0123", "RUB"
			if method == payout.MethodToken {
				row.Card = nil
			}
			data := AppendRow(nil, &row)
			var m RowMessage
			ok := decodeCanonical(data, &m)
			require.Equal(t, !strings.ContainsAny(s, "\\\u2028\""), ok, "%s", data) // escaped: left to the JSON decoder
			if !ok {
				continue
			}
			got, err := checkRow(&m)
			want, wantErr := decodeRowWith(json.Unmarshal, data)
			require.Equal(t, wantErr, err)
			require.Equal(t, want, got, "%s", data)
			require.NotNil(t, got.Meta, "%s", data)
		}
	}
	var row payout.Row
	fill(reflect.ValueOf(&row).Elem(), "x", 3)
	for _, data := range [][]byte{AppendRow(nil, &row), func() []byte { r := row; r.Encrypted = nil; return AppendRow(nil, &r) }(),
		func() []byte { r := row; r.Transfer = nil; return AppendRow(nil, &r) }()} {
		require.False(t, decodeCanonical(data, new(RowMessage)), "%s", data)
		_, err := DecodeRow(data)
		_, wantErr := decodeRowWith(json.Unmarshal, data)
		require.Equal(t, wantErr == nil, err == nil, "%s", data)
	}
}

// TestDecodeMetaCanonical: the meta AppendRow writes (what the ledger
// keeps of a row) is read without the JSON decoder, to the same map.
func TestDecodeMetaCanonical(t *testing.T) {
	for _, meta := range []map[string]string{{"a": "b"}, {"department": "Склад", "employee": "2"}, {"": "", "z": "x y", "m": "1"}} {
		msg := AppendRow(nil, &payout.Row{Meta: meta})
		_, text, _ := bytes.Cut(msg, []byte(`,"meta":`))
		text = text[:bytes.IndexByte(text, '}')+1] // no value here has a brace
		got, ok := decodeMetaCanonical(text)
		require.True(t, ok, "%s", text)
		require.Equal(t, meta, got)
		want, err := decodeMetaWith(json.Unmarshal, text)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	for _, text := range []string{`{}`, `{"b":"1","a":"2"}`, `{"a":"\n"}`, `{"a":1}`, ` {"a":"b"}`} {
		_, ok := decodeMetaCanonical([]byte(text))
		require.False(t, ok, "%s is not as AppendRow writes meta", text)
	}
}

// FuzzDecodeMeta holds DecodeMeta to encoding/json's answers.
func FuzzDecodeMeta(f *testing.F) {
	for _, s := range []string{``, `null`, `{}`, `{"a":"b"}`, `{"a":1,"b":[true]}`, `{"a":null}`, `{"a":"b","a":"c"}`,
		`{"\u00e9":"\n"}`, `[1]`, `{"a":`, `{"a":"b","c":""}`, `{"c":"d","a":"b"}`, `{"department":"Склад","employee":"2"}`,
		"{\"a\":\"\xff\"}", `{"a":"b"}x`, ` {"a":"b"} `, `{"a":"b",}`, `{"":""}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := DecodeMeta(data)
		want, wantErr := decodeMetaWith(json.Unmarshal, data)
		if wantErr != nil {
			if err == nil {
				t.Fatalf("goccy accepted %q, encoding/json said %v", data, wantErr)
			}
			return
		}
		require.NoError(t, err, "encoding/json accepted %q", data)
		require.Equal(t, want, got)
	})
}

// FuzzAppendString holds the row encoder's string escaping to what
// encoding/json writes without HTML escaping, for any string, and checks
// that both decoders read the string back.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", `q"uo\te`, "line\nbreak\r\ttab\x01\x1f\x7f", "<&> Иванов \u2028\u2029 ✓",
		"bad\xffutf8", "\xed\xa0\x80", "\U0001F600"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		require.NoError(t, enc.Encode(s))
		want := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
		got := appendString(nil, s)
		require.Equal(t, string(want), string(got), "%q", s)
		var std string
		require.NoError(t, json.Unmarshal(got, &std))
		m, err := DecodeMeta([]byte(`{"k":` + string(got) + `}`))
		require.NoError(t, err)
		require.Equal(t, std, m["k"], "%q", s)
	})
}

// FuzzWriteDigestInput holds WriteDigestInput to AppendDigestInput for a
// row with every field set to any string, card number included.
func FuzzWriteDigestInput(f *testing.F) {
	for _, s := range []string{"", "plain", `,"card":{"sealed":"`, `\"}`, `,"fingerprint":"`, "\xff"} {
		f.Add(s, "4242424242424242")
	}
	f.Fuzz(func(t *testing.T, s, pan string) {
		var row payout.Row
		fill(reflect.ValueOf(&row).Elem(), s, 3)
		row.Digest = ""
		var got bytes.Buffer
		if !WriteDigestInput(&got, AppendRow(nil, &row), pan) {
			t.Fatalf("refused the message of %q", s)
		}
		require.Equal(t, string(AppendDigestInput(nil, &row, pan)), got.String())
	})
}
