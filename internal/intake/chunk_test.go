package intake

import (
	"bytes"
	"crypto/sha256"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/payout"
)

// goldenChunk is the chunk of the golden rows 1..6 (their own messages,
// in order).
func goldenChunk(t *testing.T) ([]byte, [][]byte) {
	rows := goldenRows()
	byNo := map[int][]byte{}
	for _, r := range rows {
		byNo[r.Index] = AppendRow(nil, r)
	}
	b := AppendChunkHead(nil, 1, len(byNo))
	var msgs [][]byte
	for i := 1; i <= len(byNo); i++ {
		msgs = append(msgs, byNo[i])
		b = AppendChunkRow(b, byNo[i])
	}
	return b, msgs
}

// TestChunkRoundTrip: a chunk's rows come back as exactly their row
// messages, so a row's SHA-256 is the same in a chunk as alone, and a
// row's message is found by its number.
func TestChunkRoundTrip(t *testing.T) {
	data, msgs := goldenChunk(t)
	require.True(t, IsChunk(data))
	require.True(t, bytes.HasPrefix(data, []byte("payrun.rows 1 6\n{")))
	c, err := SplitChunk(data)
	require.NoError(t, err)
	require.Equal(t, 1, c.First)
	require.Len(t, c.Rows, len(msgs))
	for i, m := range msgs {
		require.Equal(t, m, c.Rows[i])
		require.Equal(t, sha256.Sum256(m), sha256.Sum256(c.Rows[i]))
		got, err := ChunkRow(data, i+1)
		require.NoError(t, err)
		require.Equal(t, m, got)
		r, err := DecodeRow(got)
		require.NoError(t, err)
		require.Equal(t, i+1, r.Row.Index)
	}
	_, err = ChunkRow(data, 7)
	require.ErrorContains(t, err, "does not hold row 7")
	_, err = ChunkRow(data, 0)
	require.Error(t, err)
	for _, m := range msgs {
		require.False(t, IsChunk(m), "a row message is not a chunk")
	}
}

// TestSplitChunkRefuses: a torn or malformed chunk is refused, saying
// what is wrong; nothing of it is returned.
func TestSplitChunkRefuses(t *testing.T) {
	data, _ := goldenChunk(t)
	row := `{"batch":"b0123456789abcdef0123","row":1}`
	for name, tc := range map[string]struct{ data, want string }{
		"torn in a row":      {string(data[:len(data)-10]), "row 6 is not ended by a newline"},
		"torn at a row":      {string(data[:bytes.LastIndexByte(data[:len(data)-1], '\n')+1]), "holds 5 rows"},
		"head not ended":     {"payrun.rows 1 6", "first line is not ended"},
		"more rows":          {"payrun.rows 1 1\n" + row + "\n" + row + "\n", "more than 1 rows"},
		"empty row":          {"payrun.rows 1 2\n" + row + "\n\n", "row 2 is empty"},
		"no count":           {"payrun.rows 1\n" + row + "\n", "is not \"payrun.rows <first> <count>\""},
		"zero count":         {"payrun.rows 1 0\n", "1 ≤ count"},
		"zero first":         {"payrun.rows 0 1\n" + row + "\n", "first ≥ 1"},
		"leading zero":       {"payrun.rows 01 1\n" + row + "\n", "first ≥ 1"},
		"sign":               {"payrun.rows +1 1\n" + row + "\n", "first ≥ 1"},
		"too many":           {"payrun.rows 1 257\n", "count ≤ 256"},
		"huge first":         {"payrun.rows 99999999999 1\n" + row + "\n", "first ≥ 1"},
		"carriage return":    {"payrun.rows 1 1\r\n" + row + "\n", "is not"},
		"a row, not a chunk": {row, "not a chunk"},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := SplitChunk([]byte(tc.data))
			require.ErrorContains(t, err, tc.want)
			require.Nil(t, c)
		})
	}
}

// TestAppendChunkRowRefusesNewline: a writer cannot put a newline into a
// chunk's row.
func TestAppendChunkRowRefusesNewline(t *testing.T) {
	require.Panics(t, func() { AppendChunkRow(nil, []byte("{\n}")) })
	require.Panics(t, func() { AppendChunkRow(nil, nil) })
}

// FuzzChunk: for a row with every field set to any string (control
// characters, U+2028, invalid UTF-8 included), its row message holds no
// newline, and a chunk of it and a golden row splits back into the two
// messages exactly; any data SplitChunk accepts has rows without newlines
// that rebuild the same data.
func FuzzChunk(f *testing.F) {
	for _, s := range []string{"", "plain", "line\nbreak\r\n", "\u2028\u2029\x85", "bad\xffutf8", "\\n"} {
		f.Add(s, []byte("payrun.rows 3 1\n{}\n"))
	}
	f.Add("x", []byte("payrun.rows 1 2\n{}\n{}"))
	f.Fuzz(func(t *testing.T, s string, raw []byte) {
		var row payout.Row
		fill(reflect.ValueOf(&row).Elem(), s, 9)
		msg := AppendRow(nil, &row)
		require.NotContains(t, string(msg), "\n", "%q", s)
		row.Digest = ""
		msg = AppendDigestSum(AppendRow(nil, &row), sha256.Sum256([]byte(s)))
		require.NotContains(t, string(msg), "\n", "%q", s)
		other := AppendRow(nil, goldenRows()["row_card"])
		data := AppendChunkRow(AppendChunkRow(AppendChunkHead(nil, 9, 2), msg), other)
		c, err := SplitChunk(data)
		require.NoError(t, err)
		require.Equal(t, [][]byte{msg, other}, c.Rows)

		c, err = SplitChunk(raw)
		if err != nil {
			return
		}
		again := AppendChunkHead(nil, c.First, len(c.Rows))
		for _, r := range c.Rows {
			again = AppendChunkRow(again, r)
		}
		require.Equal(t, raw, again)
	})
}
