package ledger

import (
	"testing"
	"time"
)

// TestParseStored: the fast path reads what time.Parse reads in the
// stored layout, and leaves everything else to it.
func TestParseStored(t *testing.T) {
	for _, s := range []string{
		"2026-11-25T10:00:00.000000000Z", "2024-02-29T23:59:59.999999999Z", "0001-01-01T00:00:00.000000000Z",
		"2026-12-31T00:00:00.123456789Z",
		// Not in the layout, or out of range: time.Parse's answer.
		"2026-02-29T10:00:00.000000000Z", "2026-04-31T10:00:00.000000000Z", "2026-13-01T10:00:00.000000000Z",
		"2026-11-25T24:00:00.000000000Z", "2026-11-25T10:60:00.000000000Z", "2026-11-25T10:00:60.000000000Z",
		"2026-11-25T10:00:00.00000000xZ", "2026-11-25T10:00:00Z", "2026-11-25T10:00:00.000000000+03:00", "", "garbage",
	} {
		want, err := time.Parse(timeLayout, s)
		got, ok := parseStored(s)
		if ok != (err == nil) {
			t.Errorf("%q: fast path ok=%v, time.Parse error %v", s, ok, err)
			continue
		}
		if ok && (!got.Equal(want) || got.Location() != want.Location()) {
			t.Errorf("%q: fast path %v, time.Parse %v", s, got, want)
		}
		if parseTime(s) != func() time.Time {
			if err == nil {
				return want
			}
			w, _ := time.Parse(time.RFC3339Nano, s)
			return w
		}() {
			t.Errorf("%q: parseTime differs from time.Parse", s)
		}
	}
}
