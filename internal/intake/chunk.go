package intake

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// A chunk is one PAYRUN_INTAKE message carrying consecutive row messages of
// one batch (see the package comment, "The chunk"): a first line naming the
// first row's number and the count, then each row message followed by a
// newline.
//
//	payrun.rows <first> <count>\n
//	<row message of row first>\n
//	<row message of row first+1>\n
//	…
//
// A row message never holds a raw newline (AppendRow escapes every control
// character in strings and writes no whitespace; FuzzChunk holds it to
// that), so the newline ends a row unambiguously, and a row's bytes in a
// chunk are exactly its row message: its SHA-256 and its keyed digest are
// the row's own, whichever message carried it.

// chunkMagic begins every chunk. A row message begins with '{' (or, from a
// writer other than AppendRow, JSON whitespace): no row message is taken
// for a chunk.
const chunkMagic = "payrun.rows "

// ChunkRows is how many rows ingest puts in a chunk (the last of a batch
// may hold fewer). A chunk's rows are rows first..first+ChunkRows-1 with
// first = 1, ChunkRows+1, 2·ChunkRows+1…: chunk boundaries follow from the
// file alone, so an upload resumed or repeated publishes the same chunks.
const ChunkRows = 64

// MaxChunkBytes bounds a chunk's data (well under nats-server's default
// max_payload of 1 MB).
const MaxChunkBytes = 256 << 10

// IsChunk reports whether data is a chunk rather than a single row message.
func IsChunk(data []byte) bool { return bytes.HasPrefix(data, []byte(chunkMagic)) }

// MessageRows is how many rows a PAYRUN_INTAKE message says it carries: a
// chunk's count from its first line alone (its rows unread), 1 for any
// other message. It is for sizing work; SplitChunk checks.
func MessageRows(data []byte) int {
	if !IsChunk(data) {
		return 1
	}
	h := data[len(chunkMagic):min(len(data), len(chunkMagic)+24)]
	if nl := bytes.IndexByte(h, '\n'); nl >= 0 {
		if _, count, err := parseChunkHead(h[:nl]); err == nil {
			return count
		}
	}
	return 1
}

// AppendChunkHead appends a chunk's first line to b.
func AppendChunkHead(b []byte, first, count int) []byte {
	b = append(b, chunkMagic...)
	b = strconv.AppendInt(b, int64(first), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(count), 10)
	return append(b, '\n')
}

// AppendChunkRow appends one row message to a chunk begun with
// AppendChunkHead. msg must be a row message as AppendRow writes it (no
// newline in it); AppendChunkRow panics otherwise: a writer's bug.
func AppendChunkRow(b, msg []byte) []byte {
	if bytes.IndexByte(msg, '\n') >= 0 || len(msg) == 0 {
		panic("intake: a chunk's row message holds a newline or is empty")
	}
	b = append(b, msg...)
	return append(b, '\n')
}

// Chunk is a chunk's rows, split but not decoded.
type Chunk struct {
	First int      // the first row's number
	Rows  [][]byte // each row's message, exactly its bytes (sub-slices of the data)
}

// SplitChunk splits a chunk into its row messages. It checks the framing
// only (the first line, the count, every row ended by a newline and not
// empty, nothing after the last); each row is then a row message to decode
// (DecodeRow) and its number to check against First+i.
func SplitChunk(data []byte) (*Chunk, error) {
	if !IsChunk(data) {
		return nil, errors.New("not a chunk of rows")
	}
	nl := bytes.IndexByte(data, '\n')
	if nl < 0 {
		return nil, errors.New("chunk of rows: its first line is not ended (a torn message?)")
	}
	first, count, err := parseChunkHead(data[len(chunkMagic):nl])
	if err != nil {
		return nil, err
	}
	c := &Chunk{First: first, Rows: make([][]byte, 0, count)}
	rest := data[nl+1:]
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			return nil, fmt.Errorf("chunk of rows %d+%d: row %d is not ended by a newline (a torn message?)", first, count, first+len(c.Rows))
		}
		if i == 0 {
			return nil, fmt.Errorf("chunk of rows %d+%d: row %d is empty", first, count, first+len(c.Rows))
		}
		if len(c.Rows) == count {
			return nil, fmt.Errorf("chunk of rows %d+%d: more than %d rows", first, count, count)
		}
		c.Rows = append(c.Rows, rest[:i:i])
		rest = rest[i+1:]
	}
	if len(c.Rows) != count {
		return nil, fmt.Errorf("chunk of rows %d+%d: holds %d rows (a torn message?)", first, count, len(c.Rows))
	}
	return c, nil
}

// ChunkRow returns the message of row n in a chunk, checking the chunk's
// framing; an error says the chunk does not split or does not hold row n.
func ChunkRow(data []byte, n int) ([]byte, error) {
	c, err := SplitChunk(data)
	if err != nil {
		return nil, err
	}
	if n < c.First || n-c.First >= len(c.Rows) {
		return nil, fmt.Errorf("chunk of rows %d+%d does not hold row %d", c.First, len(c.Rows), n)
	}
	return c.Rows[n-c.First], nil
}

// parseChunkHead reads "<first> <count>": decimal, no sign, no leading
// zero, first ≥ 1, 1 ≤ count ≤ ChunkRows·4 (a later writer may put more rows
// in a chunk; a reader bounds what it allocates).
func parseChunkHead(h []byte) (first, count int, err error) {
	sp := bytes.IndexByte(h, ' ')
	if sp < 0 {
		return 0, 0, fmt.Errorf("chunk of rows: first line %q is not \"payrun.rows <first> <count>\"", h)
	}
	first, ok1 := parsePositive(h[:sp])
	count, ok2 := parsePositive(h[sp+1:])
	if !ok1 || !ok2 || count > maxChunkCount {
		return 0, 0, fmt.Errorf("chunk of rows: first line %q is not \"payrun.rows <first> <count>\" (first ≥ 1, 1 ≤ count ≤ %d)", h, maxChunkCount)
	}
	return first, count, nil
}

// maxChunkCount is the most rows a reader takes in one chunk.
const maxChunkCount = 4 * ChunkRows

func parsePositive(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 10 || b[0] == '0' {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n <= 1<<31-1
}
