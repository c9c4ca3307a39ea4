package batch

import (
	"encoding/csv"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPrefetcherIsTheReader: the prefetched records, errors and field
// positions are csv.Reader's, in its order, across batches; a stop before
// the end leaves the reader to its caller.
func TestPrefetcherIsTheReader(t *testing.T) {
	var big strings.Builder
	big.WriteString("a;b;c\n")
	for i := range 3 * prefetchBatch {
		switch i % 7 {
		case 0:
			big.WriteString("\"multi\nline\";x;\"quoted \"\"q\"\"\"\n")
		case 3:
			big.WriteString("short;row\n") // wrong field count
		case 5:
			big.WriteString("\n") // blank line
		default:
			big.WriteString("1;2;3\n")
		}
	}
	tests := map[string]string{
		"plain":         "a;b;c\n1;2;3\n4;5;6\n",
		"batches":       big.String(),
		"bare quote":    "a;b;c\n1;x\"y;3\n4;5;6\n",
		"open quote":    "a;b;c\n1;\"2;3\n",
		"no final line": "a;b;c\n1;2;3",
		"empty":         "",
	}
	newReader := func(s string) *csv.Reader {
		r := csv.NewReader(strings.NewReader(s))
		r.Comma, r.ReuseRecord = ';', true
		return r
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			want, pf := newReader(in), newPrefetcher(newReader(in))
			defer pf.stop()
			for n := 0; ; n++ {
				wrec, werr := want.Read()
				grec, gerr := pf.Read()
				require.Equal(t, werr, gerr, "record %d", n)
				require.Equal(t, wrec, grec, "record %d", n)
				for i := range grec {
					wl, wc := want.FieldPos(i)
					gl, gc := pf.FieldPos(i)
					require.Equal(t, [2]int{wl, wc}, [2]int{gl, gc}, "record %d field %d", n, i)
				}
				var pe *csv.ParseError
				if werr != nil && !errors.As(werr, &pe) {
					_, again := pf.Read()
					require.Equal(t, werr, again, "the error again")
					break
				}
			}
		})
	}

	// Stopped after a few records, the reading goroutine is gone and the
	// reader below is not read any more.
	src := &countingReader{r: strings.NewReader(big.String())}
	pf := newPrefetcher(csv.NewReader(src))
	_, err := pf.Read()
	require.NoError(t, err)
	pf.stop()
	n := src.n
	rest, err := io.ReadAll(src)
	require.NoError(t, err)
	require.Equal(t, int64(big.Len()), n+int64(len(rest)), "every byte read once")
}
