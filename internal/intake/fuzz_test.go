package intake

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

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

// FuzzDecodeRow holds DecodeRow (goccy/go-json) to the answers
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
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := DecodeRow(data)
		want, wantErr := decodeRowWith(json.Unmarshal, data)
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

// FuzzDecodeMeta holds DecodeMeta to encoding/json's answers.
func FuzzDecodeMeta(f *testing.F) {
	for _, s := range []string{``, `null`, `{}`, `{"a":"b"}`, `{"a":1,"b":[true]}`, `{"a":null}`, `{"a":"b","a":"c"}`,
		`{"\u00e9":"\n"}`, `[1]`, `{"a":`} {
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
