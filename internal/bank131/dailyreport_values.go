package bank131

import (
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/payrun/payrun/internal/money"
)

// DefaultReportZone is the bank's time zone setting by default: its pages
// write times without an offset, and Bank 131 is in Moscow.
const DefaultReportZone = "Europe/Moscow"

// ReportZone is the zone of report times without an offset by default:
// ZonelessLocation (Moscow, a fixed UTC+03:00, which it has kept since 2014
// without daylight saving, so no zone database is needed).
func ReportZone() *time.Location { return ZonelessLocation }

// LoadReportZone reads a time-zone setting: an IANA name (Europe/Moscow,
// UTC) or a fixed offset (+03:00). "" and Europe/Moscow are ReportZone().
func LoadReportZone(name string) (*time.Location, error) {
	switch {
	case name == "" || name == DefaultReportZone:
		return ReportZone(), nil
	case len(name) == 6 && (name[0] == '+' || name[0] == '-') && name[3] == ':':
		t, err := time.Parse("-07:00", name)
		if err != nil {
			return nil, fmt.Errorf("time zone %q: %w", name, err)
		}
		_, off := t.Zone()
		return time.FixedZone(name, off), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", name, err)
	}
	return loc, nil
}

// Time layouts of the report: the bank's "YYYY-MM-DD H:I:S" and its
// variants, read in the report zone; the acquiring report's DD.MM.YYYY
// form; RFC 3339 carries its own offset.
var (
	reportZoneless = []string{
		"2006-01-02 15:04:05", "2006-01-02 15:04:05.999999999", "2006-01-02 15:04",
		"2006-01-02T15:04:05", "2006-01-02T15:04:05.999999999",
		"2006-01-02",
		"02.01.2006 15:04:05", "02.01.2006 15:04", "02.01.2006",
	}
	reportZoned = []string{time.RFC3339Nano, "2006-01-02 15:04:05Z07:00", "2006-01-02 15:04:05.999999999Z07:00"}
)

// excelEpoch is day 0 of Excel's 1900 date system (serial 1 is 1900-01-01,
// and Excel counts a 29 February 1900 that never was, so serials from 61 on
// count from 30 December 1899).
var excelEpoch = time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC)

// parseReportTime reads a report time. In an XLSX cell a number is an
// Excel serial date (days since excelEpoch, the fraction the time of day),
// read to the second.
func parseReportTime(s string, zone *time.Location, xlsx bool) (time.Time, error) {
	for _, layout := range reportZoned {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	for _, layout := range reportZoneless {
		if t, err := time.ParseInLocation(layout, s, zone); err == nil {
			return t, nil
		}
	}
	if xlsx && isPlainNumber(s) {
		r, ok := new(big.Rat).SetString(s)
		if ok && r.Cmp(big.NewRat(61, 1)) >= 0 && r.Cmp(big.NewRat(2958466, 1)) < 0 {
			secs := roundRat(new(big.Rat).Mul(r, big.NewRat(86400, 1)))
			w := excelEpoch.Add(time.Duration(secs.Int64()) * time.Second)
			return time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, zone), nil
		}
	}
	return time.Time{}, errors.New("not a time as YYYY-MM-DD HH:MM:SS, YYYY-MM-DD, RFC 3339 or DD.MM.YYYY HH:MM:SS")
}

// isPlainNumber: digits with at most one '.' among them.
func isPlainNumber(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	dot := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.' && !dot:
			dot = true
		case c < '0' || c > '9':
			return false
		}
	}
	return true
}

// parseReportAmount reads an amount in major units with money.Parse. In
// an XLSX a number cell is stored as the spreadsheet's binary float
// printed (109.99999999999999, 1.1E+2): it is read exactly, as a decimal,
// and rounded to the currency's minor unit only when that moves it by at
// most 1e-9 of a major unit; anything further is an error.
func parseReportAmount(s, currency string, xlsx bool) (money.Amount, error) {
	a, err := money.Parse(s, currency)
	if err == nil || !xlsx || strings.ContainsAny(s, "/ ,\u00a0") {
		return a, err
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return a, err
	}
	scale := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(money.Exponent(currency))), nil))
	scaled := new(big.Rat).Mul(r, scale)
	minor := roundRat(scaled)
	diff := new(big.Rat).Sub(scaled, new(big.Rat).SetInt(minor))
	tolerance := new(big.Rat).Quo(scale, big.NewRat(1_000_000_000, 1))
	if diff.Abs(diff).Cmp(tolerance) > 0 {
		return a, fmt.Errorf("%w: %s has more decimals than %s allows", money.ErrPrecision, s, strings.ToUpper(currency))
	}
	if !minor.IsInt64() {
		return a, money.ErrRange
	}
	return money.New(minor.Int64(), currency), nil
}

// roundRat rounds to the nearest integer, halves away from zero.
func roundRat(r *big.Rat) *big.Int {
	num, den := new(big.Int).Set(r.Num()), r.Denom()
	neg := num.Sign() < 0
	num.Abs(num)
	q, m := new(big.Int).QuoRem(num, den, new(big.Int))
	if new(big.Int).Mul(m, big.NewInt(2)).Cmp(den) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	if neg {
		q.Neg(q)
	}
	return q
}

var (
	dayRangeRe = regexp.MustCompile(`(\d{4}-\d{2}-\d{2})[_-](\d{4}-\d{2}-\d{2})`)
	dayRe      = regexp.MustCompile(`\d{4}-\d{2}-\d{2}`)
	partRe     = regexp.MustCompile(`\d{4}-\d{2}-\d{2}[_-]\d{4}-\d{2}-\d{2}[_-](?:[Pp]art[_-]?)?(\d{1,3})(?:\.[A-Za-z0-9]+)*$`)
)

// DaysFromName returns the days a report's source name says it covers: a
// URL's date= parameter, or in the file name a range FROM_TO or FROM-TO
// (at most 366 days; the bank names its payout report
// <Project>_YYYY-MM-DD_YYYY-MM-DD and its acquiring report
// <Slug>_YYYY-MM-DD-YYYY-MM-DD) or a single date. nil when the name says
// nothing.
func DaysFromName(source string) []string {
	name := source
	if u, err := url.Parse(source); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		if d := u.Query().Get("date"); d != "" {
			if _, err := time.Parse(time.DateOnly, d); err == nil {
				return []string{d}
			}
		}
		name = u.Path
		if u.Fragment != "" {
			name = u.Fragment // a download name (ledger import-report keeps it after '#')
		}
	}
	name = path.Base(strings.ReplaceAll(name, `\`, "/"))
	if m := dayRangeRe.FindStringSubmatch(name); m != nil {
		from, err1 := time.Parse(time.DateOnly, m[1])
		to, err2 := time.Parse(time.DateOnly, m[2])
		if err1 == nil && err2 == nil && !to.Before(from) && to.Sub(from) <= 366*24*time.Hour {
			var out []string
			for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
				out = append(out, d.Format(time.DateOnly))
			}
			return out
		}
	}
	if m := dayRe.FindString(name); m != "" {
		if _, err := time.Parse(time.DateOnly, m); err == nil {
			return []string{m}
		}
	}
	return nil
}

// PartFromName returns the part a file of a split report is by its name:
// a number after the day range, <base>_2.csv or <base>_part2.csv (also in a
// ZIP's name); 0 when the name has none.
func PartFromName(source string) int {
	name := source
	if u, err := url.Parse(source); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		name = u.Path
		if u.Fragment != "" {
			name = u.Fragment
		}
	}
	name = path.Base(strings.ReplaceAll(name, `\`, "/"))
	m := partRe.FindStringSubmatch(name)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}
