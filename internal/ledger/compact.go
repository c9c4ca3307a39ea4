package ledger

import (
	"encoding/hex"
	"time"
)

// The compact forms of values the ledger stores in few bytes (issue 17,
// migrations 0140 and 0141). Each has its text back by a generated column
// or a view, byte for byte; the SQL triggers encode the same way.

// hookKey is a webhook id as stored (hook_events.h): the 32 bytes of a
// lowercase hex SHA-256 (the ids hookrelay gives), else the id itself.
func hookKey(id string) any {
	if len(id) == 64 {
		if b, err := hex.DecodeString(id); err == nil && hex.EncodeToString(b) == id {
			return b
		}
	}
	return id
}

// timeKey is a time as stored (hook_events.received): Unix
// nanoseconds when they give back the same text (formatTime), else the
// text.
func timeKey(t time.Time) any {
	s := formatTime(t)
	if u := t.UTC(); u.Year() >= 1970 && u.Year() < 2262 && formatTime(time.Unix(0, u.UnixNano())) == s {
		return u.UnixNano()
	}
	return s
}
