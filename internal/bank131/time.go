package bank131

import (
	"bytes"
	"fmt"
	"time"
)

// TimeLayout is how the bank writes timestamps: RFC 3339 in UTC with six
// fraction digits, e.g. 2018-05-27T02:03:00.000000Z.
const TimeLayout = "2006-01-02T15:04:05.000000Z07:00"

// Time is a bank timestamp. It reads any RFC 3339 time (empty string and
// null leave it zero) and writes TimeLayout in UTC. Use `json:",omitzero"`
// to leave zero times out.
type Time struct {
	time.Time
}

// NewTime returns t as a bank timestamp, truncated to microseconds.
func NewTime(t time.Time) Time { return Time{t.UTC().Truncate(time.Microsecond)} }

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	b := make([]byte, 0, len(TimeLayout)+2)
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, TimeLayout)
	return append(b, '"'), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) || bytes.Equal(b, []byte(`""`)) {
		t.Time = time.Time{}
		return nil
	}
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return fmt.Errorf("timestamp %s is not a string", b)
	}
	v, err := time.Parse(time.RFC3339Nano, string(b[1:len(b)-1]))
	if err != nil {
		return fmt.Errorf("parse timestamp: %w", err)
	}
	t.Time = v
	return nil
}
