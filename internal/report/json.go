package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
)

// WriteJSON writes the report as JSON: the batch and the summary indented,
// then one row per line (a 100k-row report stays quick to write and to
// read with line tools).
func (rep *Report) WriteJSON(w io.Writer) error { return rep.Source().writeJSON(w) }

// writeJSON writes the report as JSON (WriteJSON). The rows come after
// the summary: when the summary is not known before the rows, they are
// written to a spool as they are produced, then copied after it.
func (s *Source) writeJSON(w io.Writer) error {
	fail := func(err error) error { return fmt.Errorf("write JSON report: %w", err) }
	bw := bufio.NewWriterSize(w, 64<<10)
	n := 0
	rowsTo := func(out *bufio.Writer) func(*Row) error {
		return func(row *Row) error {
			b, err := json.Marshal(row)
			if err != nil {
				return err
			}
			if n > 0 {
				out.WriteByte(',')
			}
			n++
			out.WriteString("\n    ")
			_, err = out.Write(b)
			return err
		}
	}
	rep := s.head
	var rows io.Reader
	if rep == nil {
		sp, err := newSpool()
		if err != nil {
			return fail(err)
		}
		defer sp.Close()
		if rep, err = s.Rows(nil, rowsTo(sp.Writer)); err != nil {
			return fail(err)
		}
		if rows, err = sp.reader(); err != nil {
			return fail(err)
		}
	}
	part := func(key string, v any, last bool) error {
		b, err := json.MarshalIndent(v, "  ", "  ")
		if err != nil {
			return err
		}
		bw.WriteString("  \"" + key + "\": ")
		bw.Write(b)
		if !last {
			bw.WriteString(",\n")
		}
		return nil
	}
	bw.WriteString("{\n")
	if err := part("batch", rep.Batch, false); err != nil {
		return fail(err)
	}
	if err := part("as_of", rep.AsOf, false); err != nil {
		return fail(err)
	}
	if err := part("lang", rep.Lang, false); err != nil {
		return fail(err)
	}
	if err := part("summary", rep.Summary, false); err != nil {
		return fail(err)
	}
	bw.WriteString("  \"rows\": [")
	if rows != nil {
		if _, err := io.Copy(bw, rows); err != nil {
			return fail(err)
		}
	} else if _, err := s.Rows(nil, rowsTo(bw)); err != nil {
		return fail(err)
	}
	if n > 0 {
		bw.WriteString("\n  ")
	}
	bw.WriteString("]\n}\n")
	if err := bw.Flush(); err != nil {
		return fail(err)
	}
	return nil
}
