package bank131

import (
	"bytes"
	"fmt"
	"time"
)

// TimeLayout is how the bank writes timestamps: RFC 3339 in UTC with six
// fraction digits, e.g. 2018-05-27T02:03:00.000000Z.
const TimeLayout = "2006-01-02T15:04:05.000000Z07:00"

// ZonelessLocation is the zone of a timestamp written without one
// ("2022-11-15 15:38:50"): Moscow time, UTC+3 all year since 2014, as a
// fixed zone so no time zone database is needed. The bank's pages give no
// zone for such times; its daily reports are Moscow-based.
var ZonelessLocation = time.FixedZone("MSK", 3*60*60)

// zonelessLayouts are the forms without a zone that Time reads besides RFC
// 3339. A fraction of a second after the seconds is accepted by each.
var zonelessLayouts = []string{
	"2006-01-02 15:04:05",
	"2006-01-02T15:04:05",
}

// Time is a bank timestamp. It reads any RFC 3339 time, the same with a
// space for the T, and "YYYY-MM-DD HH:MM:SS[.ffffff]" or
// "YYYY-MM-DDTHH:MM:SS" without a zone (read in ZonelessLocation): every
// seed and SDK test writes RFC 3339, but the bank's report pages write the
// space form. Empty string and null leave it zero. It writes TimeLayout in
// UTC. Use `json:",omitzero"` to leave zero times out.
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
	v, err := ParseTime(string(b[1 : len(b)-1]))
	if err != nil {
		return err
	}
	t.Time = v
	return nil
}

// ParseTime reads a bank timestamp in any of the forms Time accepts.
func ParseTime(s string) (time.Time, error) {
	if v, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return v, nil
	}
	if v, err := time.Parse("2006-01-02 15:04:05Z07:00", s); err == nil {
		return v, nil
	}
	for _, layout := range zonelessLayouts {
		if v, err := time.ParseInLocation(layout, s, ZonelessLocation); err == nil {
			return v, nil
		}
	}
	return time.Time{}, fmt.Errorf("parse timestamp %q: want RFC 3339 or YYYY-MM-DD HH:MM:SS", s)
}
