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
func (rep *Report) WriteJSON(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
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
		return fmt.Errorf("write JSON report: %w", err)
	}
	if err := part("as_of", rep.AsOf, false); err != nil {
		return fmt.Errorf("write JSON report: %w", err)
	}
	if err := part("lang", rep.Lang, false); err != nil {
		return fmt.Errorf("write JSON report: %w", err)
	}
	if err := part("summary", rep.Summary, false); err != nil {
		return fmt.Errorf("write JSON report: %w", err)
	}
	bw.WriteString("  \"rows\": [")
	for i := range rep.Rows {
		b, err := json.Marshal(&rep.Rows[i])
		if err != nil {
			return fmt.Errorf("write JSON report: %w", err)
		}
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n    ")
		bw.Write(b)
	}
	if len(rep.Rows) > 0 {
		bw.WriteString("\n  ")
	}
	bw.WriteString("]\n}\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write JSON report: %w", err)
	}
	return nil
}
