package batch

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// normalContent is the content digest's definition, written plainly.
func normalContent(b []byte) []byte {
	b = bytes.TrimPrefix(b, utf8BOM)
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	b = bytes.ReplaceAll(b, []byte("\r"), []byte("\n"))
	b = bytes.TrimRight(b, "\n")
	if len(b) > 0 {
		b = append(b, '\n')
	}
	return b
}

func contentDigest(b []byte, chunk int) string {
	c := newContentHasher()
	for len(b) > 0 {
		n := min(chunk, len(b))
		c.Write(b[:n])
		b = b[n:]
	}
	return hex.EncodeToString(c.Sum())
}

func TestContentDigest(t *testing.T) {
	canonical := "reference,amount\nA-1,100\n"
	sum := sha256.Sum256([]byte(canonical))
	want := hex.EncodeToString(sum[:])
	same := []string{
		canonical,
		"reference,amount\r\nA-1,100\r\n",
		"reference,amount\nA-1,100",
		"reference,amount\nA-1,100\n\n\n",
		"reference,amount\r\nA-1,100\r\n\r\n",
		"\uFEFFreference,amount\nA-1,100\n",
		"\uFEFFreference,amount\r\nA-1,100",
		"reference,amount\rA-1,100\r",
	}
	for _, s := range same {
		for _, chunk := range []int{1, 2, 3, 7, 1 << 20} {
			require.Equal(t, want, contentDigest([]byte(s), chunk), "%q in chunks of %d", s, chunk)
		}
	}
	different := []string{
		"reference,amount\nA-1,101\n",
		"reference,amount\n\nA-1,100\n",
		"reference,amount\nA-1,100 \n",
		"\uFEFF\uFEFFreference,amount\nA-1,100\n",
		" reference,amount\nA-1,100\n",
	}
	for _, s := range different {
		require.NotEqual(t, want, contentDigest([]byte(s), 5), "%q", s)
	}
	empty := sha256.Sum256(nil)
	for _, s := range []string{"", "\n", "\r\n\r\n", "\uFEFF", "\xEF\xBB"} {
		got := contentDigest([]byte(s), 1)
		if s == "\xEF\xBB" {
			require.NotEqual(t, hex.EncodeToString(empty[:]), got, "half a BOM is content")
			continue
		}
		require.Equal(t, hex.EncodeToString(empty[:]), got, "%q", s)
	}
}

// TestValidateContentDigest: Validate reports both digests; the sample
// (LF, one final line break) has equal ones, so its batch id is the one
// it always had.
func TestValidateContentDigest(t *testing.T) {
	data, err := os.ReadFile("../../samples/payroll.csv")
	require.NoError(t, err)
	variants := [][]byte{
		data,
		bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n")),
		append(bytes.Clone(data), "\n\n"...),
		append(append([]byte{}, utf8BOM...), data...),
	}
	var first *Result
	for i, v := range variants {
		res, err := Validate(bytes.NewReader(v), Options{Now: testNow})
		require.NoError(t, err)
		require.True(t, res.Valid(), "variant %d: %v", i, res.Errors)
		sum := sha256.Sum256(v)
		require.Equal(t, hex.EncodeToString(sum[:]), res.SHA256)
		if i == 0 {
			first = res
			require.Equal(t, res.SHA256, res.ContentSHA256)
			continue
		}
		require.NotEqual(t, first.SHA256, res.SHA256, "variant %d", i)
		require.Equal(t, first.ContentSHA256, res.ContentSHA256, "variant %d", i)
		require.Equal(t, first.ContentDigest(), res.ContentDigest())
	}
	require.True(t, strings.HasSuffix(string(data), ",IT\n"), "the sample ends with one line break")
}

func FuzzContentDigest(f *testing.F) {
	f.Add([]byte("a,b\r\nc\r\r\n\n"), uint8(1))
	f.Add([]byte("\xef\xbb\xbfa\rb\n"), uint8(2))
	f.Add([]byte("\xef\xbb"), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		want := sha256.Sum256(normalContent(data))
		got := contentDigest(data, int(chunk)%64+1)
		if got != hex.EncodeToString(want[:]) {
			t.Fatalf("content digest of %q in chunks of %d differs from the definition's", data, int(chunk)%64+1)
		}
	})
}
