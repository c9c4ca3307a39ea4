package bank131

import (
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/payrun/payrun/internal/money"
)

// DailyReport is a parsed daily report of successful operations: the
// file's SHA-256 (its identity), where it came from, the days it covers
// and its lines.
type DailyReport struct {
	ID     string // sha256 hex of the file's bytes
	Source string
	Days   []string // YYYY-MM-DD, sorted
	Lines  []ReportLine
}

// ReportLine is one operation of the daily report, as the bank wrote it
// (amounts converted from major units). Its JSON form is what the ledger's
// report import carries (ledgerapi.ReportChunk).
type ReportLine struct {
	Line            int           `json:"line"`         // 1-based data line in the file
	OperationID     string        `json:"operation_id"` // the payout (or refund) id
	SessionID       string        `json:"session_id"`
	Metadata        string        `json:"metadata,omitempty"` // our metadata, echoed: {"payrun":"<batch>/<row>",...}
	Type            string        `json:"type"`               // ReportAdvice (paid) | ReportRefund (returned)
	TransactionDate string        `json:"transaction_date"`   // YYYY-MM-DD
	FinishedAt      string        `json:"finished_at"`        // as the bank wrote it
	Amount          money.Amount  `json:"amount"`
	Fee             *money.Amount `json:"fee,omitempty"`
	PaymentFast     string        `json:"payment_fast,omitempty"`
	PaymentMethod   string        `json:"payment_method,omitempty"`
	Contract        string        `json:"contract,omitempty"`
}

// Report line types.
const (
	ReportAdvice = "Advice" // a successful payout
	ReportRefund = "Refund" // a payout returned after success
)

// ReportColumns are the daily report's columns; the first eight are
// required.
var ReportColumns = []string{
	"operationId", "paymentSessionId", "paymentSessionMerchantMetadata", "typeOfPayment",
	"transactionDate", "finishedAt", "amount", "currency",
	"fee", "feeCurrency", "paymentFast", "paymentMethod", "contract",
}

const requiredReportColumns = 8

// maxReportSize bounds a report file (a 1M-operation day is ~250 MB).
const maxReportSize = 1 << 30

// ParseDailyReport reads a daily report CSV as the bank (and the sandbox's
// GET /sandbox/report) writes it. Amounts are decimal text in major units
// and are read with money.Parse, never as floats. The whole file is
// checked: any bad line fails the parse.
//
// days names the days (YYYY-MM-DD) the report covers. When empty they are
// taken from source (see DaysFromName), else from the transaction dates of
// its lines (an empty report then covers no day).
func ParseDailyReport(r io.Reader, source string, days ...string) (*DailyReport, error) {
	h := sha256.New()
	cr := csv.NewReader(io.TeeReader(io.LimitReader(r, maxReportSize), h))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("bank report %s: empty file", source)
	}
	if err != nil {
		return nil, fmt.Errorf("bank report %s: read header: %w", source, err)
	}
	idx := make([]int, len(ReportColumns))
	for i := range idx {
		idx[i] = -1
	}
	for i, name := range header {
		name = strings.TrimSpace(strings.TrimPrefix(name, "\ufeff"))
		if j := slices.Index(ReportColumns, name); j >= 0 {
			idx[j] = i
		}
	}
	var missing []string
	for j := 0; j < requiredReportColumns; j++ {
		if idx[j] < 0 {
			missing = append(missing, ReportColumns[j])
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("bank report %s: header lacks %s", source, strings.Join(missing, ", "))
	}
	rep := &DailyReport{Source: source}
	seenDays := map[string]bool{}
	for n := 1; ; n++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("bank report %s: %w", source, err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			n--
			continue
		}
		if len(rec) != len(header) {
			return nil, fmt.Errorf("bank report %s line %d: %d fields, the header has %d", source, n, len(rec), len(header))
		}
		col := func(j int) string {
			if idx[j] < 0 {
				return ""
			}
			return strings.TrimSpace(rec[idx[j]])
		}
		l, err := parseReportLine(n, col)
		if err != nil {
			return nil, fmt.Errorf("bank report %s line %d: %w", source, n, err)
		}
		seenDays[l.TransactionDate] = true
		rep.Lines = append(rep.Lines, l)
	}
	io.Copy(h, io.LimitReader(r, maxReportSize)) // the digest covers the whole file
	rep.ID = hex.EncodeToString(h.Sum(nil))
	switch {
	case len(days) > 0:
		for _, d := range days {
			if _, err := time.Parse(time.DateOnly, d); err != nil {
				return nil, fmt.Errorf("bank report %s: day %q is not YYYY-MM-DD", source, d)
			}
		}
		rep.Days = days
	default:
		rep.Days = DaysFromName(source)
		if rep.Days == nil {
			for d := range seenDays {
				rep.Days = append(rep.Days, d)
			}
		}
	}
	slices.Sort(rep.Days)
	rep.Days = slices.Compact(rep.Days)
	return rep, nil
}

// parseReportLine reads data line n; col gives its value of
// ReportColumns[j], trimmed ("" for a column the file lacks).
func parseReportLine(n int, col func(int) string) (ReportLine, error) {
	l := ReportLine{
		Line: n, OperationID: col(0), SessionID: col(1), Metadata: col(2), Type: col(3),
		TransactionDate: col(4), FinishedAt: col(5), PaymentFast: col(10), PaymentMethod: col(11), Contract: col(12),
	}
	if l.OperationID == "" {
		return l, errors.New("no operationId")
	}
	if l.Type == "" {
		return l, errors.New("no typeOfPayment")
	}
	if _, err := time.Parse(time.DateOnly, l.TransactionDate); err != nil {
		return l, fmt.Errorf("transactionDate %q is not YYYY-MM-DD", l.TransactionDate)
	}
	cur := strings.ToUpper(col(7))
	if len(cur) != 3 {
		return l, fmt.Errorf("currency %q is not an ISO 4217 code", col(7))
	}
	a, err := money.Parse(col(6), cur)
	if err != nil {
		return l, fmt.Errorf("amount %q: %w", col(6), err)
	}
	l.Amount = a
	if fee := col(8); fee != "" {
		fcur := strings.ToUpper(col(9))
		if fcur == "" {
			fcur = cur
		}
		f, err := money.Parse(fee, fcur)
		if err != nil {
			return l, fmt.Errorf("fee %q: %w", fee, err)
		}
		l.Fee = &f
	}
	return l, nil
}

var (
	dayRangeRe = regexp.MustCompile(`(\d{4}-\d{2}-\d{2})_(\d{4}-\d{2}-\d{2})`)
	dayRe      = regexp.MustCompile(`\d{4}-\d{2}-\d{2}`)
)

// DaysFromName returns the days a report's source name says it covers: a
// URL's date= parameter, or in the file name a range FROM_TO (at most 366
// days; "…_FROM_TO.csv" is the bank's and the sandbox's naming) or a
// single date. nil when the name says nothing.
func DaysFromName(source string) []string {
	name := source
	if u, err := url.Parse(source); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		if d := u.Query().Get("date"); d != "" {
			if _, err := time.Parse(time.DateOnly, d); err == nil {
				return []string{d}
			}
		}
		name = u.Path
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
