package report

import (
	"maps"
	"slices"

	"github.com/payrun/payrun/internal/cardmask"
)

// Note is what finance wrote about a row beside the payout itself: the
// file's description and the meta_ columns (by name, without the prefix),
// as the ledger recorded them.
type Note struct {
	Row         int
	Description string
	Meta        map[string]string
	// Held, Decision and Resubmit are the ledger's words on a row stopped
	// or resubmitted (Row's fields of the same names).
	Held, Decision, Resubmit string
}

// AddNotes puts the notes (in row order) on the report's rows (in row
// order), their text through the card-number redaction. A note of a row
// the report does not show (recorded after the reconciliation read the
// rows) is left out.
func (rep *Report) AddNotes(notes []Note) {
	i := 0
	for _, n := range notes {
		for i < len(rep.Rows) && rep.Rows[i].Row < n.Row {
			i++
		}
		if i == len(rep.Rows) {
			break
		}
		if rep.Rows[i].Row == n.Row {
			rep.Rows[i].setNote(&n)
		}
	}
}

// setNote puts a note on the row, its text through the card-number
// redaction.
func (r *Row) setNote(n *Note) {
	r.Description, r.Meta = cardmask.Redact(n.Description), redactMeta(n.Meta)
	r.Held, r.Decision, r.Resubmit = cardmask.Redact(n.Held), cardmask.Redact(n.Decision), n.Resubmit
}

// redactMeta passes meta names and values through the redaction; should
// two names become one, the first in name order keeps its value. A row
// without meta gets noMeta.
func redactMeta(m map[string]string) map[string]string {
	if len(m) == 0 {
		return noMeta
	}
	clean := true
	for k, v := range m {
		if cardmask.Redact(k) != k || cardmask.Redact(v) != v {
			clean = false
			break
		}
	}
	if clean {
		return m
	}
	out := make(map[string]string, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		rk := cardmask.Redact(k)
		if _, dup := out[rk]; !dup {
			out[rk] = cardmask.Redact(m[k])
		}
	}
	return out
}

// metaKeys are the meta names the report's rows have, sorted: one pass
// over the rows, a map lookup per name.
func (rep *Report) metaKeys() []string {
	seen := map[string]struct{}{}
	for i := range rep.Rows {
		for k := range rep.Rows[i].Meta {
			seen[k] = struct{}{}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}
