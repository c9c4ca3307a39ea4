package console

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/payrun/payrun/internal/money"
)

// nbsp joins what must not break apart: digit groups, a number and its
// currency.
const nbsp = "\u00a0"

// FormatMoney writes an amount as finance writes it, from its integer
// minor units (no float on the way): 1 079 332,77 ₽ in Russian (groups of
// three joined by no-break spaces, a decimal comma, the rouble sign; other
// currencies by their code), 1,079,332.77 RUB in English.
func FormatMoney(l Lang, a money.Amount) string {
	group, point := ",", "."
	if l == Russian {
		group, point = nbsp, ","
	}
	var b strings.Builder
	v := a.Minor
	neg := v < 0
	var u uint64
	if neg {
		b.WriteString("−")       // U+2212, the minus sign
		u = uint64(-(v + 1)) + 1 // MinInt64 too
	} else {
		u = uint64(v)
	}
	exp := money.Exponent(a.Currency)
	p := uint64(math.Pow10(exp))
	whole, frac := u/p, u%p
	digits := strconv.FormatUint(whole, 10)
	for i, d := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteString(group)
		}
		b.WriteRune(d)
	}
	if exp > 0 {
		b.WriteString(point)
		f := strconv.FormatUint(frac, 10)
		b.WriteString(strings.Repeat("0", exp-len(f)))
		b.WriteString(f)
	}
	b.WriteString(nbsp)
	if l == Russian && a.Currency == "RUB" {
		b.WriteString("₽")
	} else {
		b.WriteString(a.Currency)
	}
	return b.String()
}

// FormatTotals writes totals per currency in currency order.
func FormatTotals(l Lang, t money.Totals) []string {
	var out []string
	for _, a := range t.Amounts() {
		out = append(out, FormatMoney(l, a))
	}
	return out
}

// FormatTime writes a time in the console's zone with the zone's name
// (never bare UTC): 25.11.2026 12:00 MSK in Russian, 25 Nov 2026 12:00 MSK
// in English. A zone without a name shows its offset (+05).
func FormatTime(l Lang, t time.Time, zone *time.Location) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(zone)
	if l == Russian {
		return t.Format("02.01.2006 15:04 MST")
	}
	return t.Format("2 Jan 2006 15:04 MST")
}

// FormatAge writes how long ago since was, in whole minutes, hours and
// days (3 h 20 min, 2 d 4 h; 3 ч 20 мин, 2 д 4 ч).
func FormatAge(l Lang, d time.Duration) string {
	if d < time.Minute {
		return l.T("age.now")
	}
	mins := int(d / time.Minute)
	days, hours, m := mins/(24*60), mins/60%24, mins%60
	switch {
	case days > 0 && hours > 0:
		return l.T("age.dh", days, hours)
	case days > 0:
		return l.T("age.d", days)
	case hours > 0 && m > 0:
		return l.T("age.hm", hours, m)
	case hours > 0:
		return l.T("age.h", hours)
	}
	return l.T("age.m", m)
}

// The money types templates format.
type (
	moneyAmount = money.Amount
	moneyTotals = money.Totals
)
