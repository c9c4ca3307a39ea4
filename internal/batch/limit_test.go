package batch

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const limitHeader = "reference,method,amount,full_name,card_number,description\n"

func limitRow(ref, desc string) string {
	return ref + ",card,100,Ivan Petrov,4242424242424242," + desc + "\n"
}

func manyRows(from, n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(limitRow(fmt.Sprintf("R-%d", from+i), "Salary November"))
	}
	return b.String()
}

func TestRecordLimit(t *testing.T) {
	long := strings.Repeat("x", MaxRecordBytes)
	rest := manyRows(100, 2000) // about 100 KB after the long record
	tests := []struct {
		name    string
		file    string
		want    []string
		rows    int
		invalid bool
	}{
		{"long unquoted line", limitHeader + limitRow("R-1", "ok") + limitRow("R-2", long) + rest,
			[]string{"3: the line is longer than 64 KiB; a row of a payout file is a few hundred bytes, so this is not a payout file or a cell holds far too much text. The rest of the file was not read"},
			1, true},
		{"long quoted field", limitHeader + limitRow("R-1", `"`+long+`"`) + rest,
			[]string{"2: the line is longer than 64 KiB; a row of a payout file is a few hundred bytes, so this is not a payout file or a cell holds far too much text. The rest of the file was not read"},
			0, true},
		{"quote never closed", limitHeader + limitRow("R-1", "ok") + limitRow("R-2", `"Salary`) + rest,
			[]string{"3: the row starting on this line is still not finished on line 1092 and is longer than 64 KiB: a quoted field is probably not closed (a missing \"). The rest of the file was not read"},
			1, true},
		{"long header", strings.Repeat("meta_x,", MaxRecordBytes/7+1) + "reference\n" + rest,
			[]string{"1: header: the line is longer than 64 KiB; a row of a payout file is a few hundred bytes, so this is not a payout file or a cell holds far too much text. The rest of the file was not read"},
			0, true},
		// Files the limit must leave alone: many rows, quoted line breaks,
		// doubled quotes, a bare quote (csv drops the rest of its line).
		{"many rows", limitHeader + rest, nil, 2000, false},
		{"quoted line breaks", limitHeader + limitRow("R-1", "\"Salary\nNovember, \"\"bonus\"\"\n\"") + rest, nil, 2001, false},
		{"CRLF", strings.ReplaceAll(limitHeader+limitRow("R-1", "\"a\nb\"")+rest, "\n", "\r\n"), nil, 2001, false},
		{"bare quote", limitHeader + limitRow("R-1", `Salary "November"`) + rest,
			[]string{`2: a quote (") inside a field that is not quoted; put the whole field in quotes and double the inner quote ("")`},
			2001, true},
		{"text after a closing quote", limitHeader + limitRow("R-1", `"Salary" November`) + rest,
			[]string{`2: a quoted field is not closed properly (a missing or extra ")`},
			2001, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, got := validateText(t, tt.file, Options{})
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.rows, res.Rows)
			require.Equal(t, !tt.invalid, res.Valid())
			require.Equal(t, int64(len(tt.file)), res.Size, "the whole file is hashed")
		})
	}
}

// TestRecordLimitNoTotals: a file not read to its end gets no control
// total or count errors, only the one that stopped it.
func TestRecordLimitNoTotals(t *testing.T) {
	file := limitHeader + limitRow("R-1", strings.Repeat("x", MaxRecordBytes)) + manyRows(2, 10)
	_, got := validateText(t, file, Options{ExpectCount: 5, ExpectTotal: "1"})
	require.Len(t, got, 1)
	require.True(t, strings.HasPrefix(got[0], "2: the line is longer than 64 KiB"), got[0])
}

// TestRecordLimitMemory: a 32 MB description is not read into memory.
func TestRecordLimitMemory(t *testing.T) {
	data := []byte(limitHeader + limitRow("R-1", `"`+strings.Repeat("x", 32<<20)+`"`) + limitRow("R-2", "ok"))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res, err := Validate(bytes.NewReader(data), Options{Now: testNow})
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	require.False(t, res.Valid())
	require.Equal(t, 2, res.Errors[0].Line)
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(4<<20), "bytes allocated while validating")

	// Rows, reading such a file, stops with an error too.
	var last error
	for _, err := range Rows(bytes.NewReader(data), Options{Now: testNow}, nil) {
		last = err
	}
	require.ErrorContains(t, last, "changed since it was validated: 2: the line is longer than 64 KiB")
}

// FuzzRecordLimiter writes records of arbitrary fields with encoding/csv
// (quotes, delimiters, line breaks) and reads them back through the
// limiter: records below the limit never trip it, however many.
func FuzzRecordLimiter(f *testing.F) {
	f.Add("a,b\n\"c\"", uint8(3), false)
	f.Add("x\"y\r\nz;;", uint8(1), true)
	f.Fuzz(func(t *testing.T, text string, fields uint8, semicolon bool) {
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		delim := ','
		if semicolon {
			delim = ';'
		}
		w.Comma = delim
		n := int(fields)%8 + 1
		rec := make([]string, n)
		for i := range rec {
			rec[i] = text
		}
		if len(strings.Join(rec, ","))*2+64 > MaxRecordBytes {
			return
		}
		for buf.Len() < 2*MaxRecordBytes {
			if err := w.Write(rec); err != nil {
				return
			}
			w.Flush()
		}
		r := csv.NewReader(newRecordLimiter(&buf, delim))
		r.Comma = delim
		for {
			_, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			var long *recordTooLong
			if errors.As(err, &long) {
				t.Fatalf("record of %q (%d fields) tripped the limit: %v", text, n, err)
			}
		}
	})
}

// FuzzRecordLimiterSteps: skipping runs with IndexByte gives what
// following every byte gives: the same error, at the same byte, with the
// same lines, whatever the chunks the reader returns.
func FuzzRecordLimiterSteps(f *testing.F) {
	f.Add([]byte("a,\"b\nc\"\"\",d\r\ne\"f,g\n\"h"), uint8(5), uint8(3))
	f.Add([]byte("\"\"\"\n\n,,\"x\"y\n"), uint8(4), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, limit, chunk uint8) {
		lim := int(limit)%32 + 1
		fast := newRecordLimiter(nil, ',')
		fast.limit = lim
		ref := *fast
		// The reference: every byte through step.
		refAt := -1
		for i, c := range data {
			if !ref.step(c) {
				refAt = i
				break
			}
		}
		// The fast path, in chunks.
		fastAt, off := -1, 0
		size := int(chunk)%7 + 1
		for off < len(data) && fastAt < 0 {
			end := min(off+size, len(data))
			if k := fast.scan(data[off:end]); k >= 0 {
				fastAt = off + k
			}
			off = end
		}
		if fastAt != refAt {
			t.Fatalf("limit %d, chunks of %d: fast stops at %d, byte by byte at %d", lim, size, fastAt, refAt)
		}
		if refAt >= 0 {
			if *fast.err.(*recordTooLong) != *ref.err.(*recordTooLong) {
				t.Fatalf("errors differ: %+v vs %+v", fast.err, ref.err)
			}
			return
		}
		if fast.state != ref.state || fast.n != ref.n || fast.line != ref.line || fast.start != ref.start {
			t.Fatalf("state differs: fast %+v, byte by byte %+v", fast, ref)
		}
	})
}
