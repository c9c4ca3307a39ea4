package bank131

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/money"
)

// DailyReport is a parsed daily report of successful operations: its
// identity (the SHA-256 of the file, or of its parts' digests when it was
// read from several files), where it came from, the days it covers, the
// files it was read from and its lines.
type DailyReport struct {
	ID     string // sha256 hex
	Source string
	Days   []string // YYYY-MM-DD in the report zone, sorted
	// Part is the part of a split report this one file is, by its name
	// (…_2.csv, …_part2.xlsx, or a ZIP named so): 1, 2, …; 0 when the
	// report is whole (no part in its name, or read from all its parts
	// together: several files, a ZIP of parts).
	Part  int
	Files []ReportFile // every table read, in order
	Lines []ReportLine
}

// ReportFile says how one table of a report was read (evidence): its name
// (a ZIP member is "archive.zip/member.csv"), format, encoding and
// delimiter, and how many operation lines it held.
type ReportFile struct {
	Name      string `json:"name"`
	Format    string `json:"format"`              // csv | xlsx
	Encoding  string `json:"encoding,omitempty"`  // utf-8 | utf-8-bom | windows-1251 (CSV)
	Delimiter string `json:"delimiter,omitempty"` // "," | ";" | "\t" (CSV)
	Lines     int    `json:"lines"`
}

// ReportLine is one operation of the daily report, as the bank wrote it
// (amounts converted from major units, times read in the report zone). Its
// JSON form is what the ledger's report import carries
// (ledgerapi.ReportChunk).
type ReportLine struct {
	// Line numbers the operation lines of the whole report from 1, across
	// its parts; File and FileLine say where it is (the table's index in
	// DailyReport.Files from 1, and its line there, the header being 1).
	Line        int    `json:"line"`
	File        int    `json:"file,omitempty"`
	FileLine    int    `json:"file_line,omitempty"`
	OperationID string `json:"operation_id"` // the payout (or refund) id
	SessionID   string `json:"session_id"`
	Metadata    string `json:"metadata,omitempty"` // our metadata, echoed: {"payrun":"<batch>/<row>",...}
	Type        string `json:"type"`               // ReportAdvice (paid) | ReportRefund (returned) | as written
	// TransactionDate is the day (YYYY-MM-DD, report zone) the line
	// belongs to: of finishedAt, else of transactionDate.
	TransactionDate string `json:"transaction_date"`
	// CreatedAt (transactionDate: the payout was created) and FinishedAt
	// (finishedAt), RFC 3339 with the report zone's offset; "" when the
	// file has no such column or the cell is empty.
	CreatedAt  string `json:"created_at,omitempty"`
	FinishedAt string `json:"finished_at,omitempty"`
	// Amount is paymentLocalAmount: what the recipient got (the amount of
	// our request). Gross (grossLocalAmount: what left our wallet) and
	// Fee (feesLocalAmount, the bank's fee) are nil when the file has no
	// such cell. A Refund's amounts are positive whatever sign the bank
	// wrote; so is every fee.
	Amount        money.Amount  `json:"amount"`
	Gross         *money.Amount `json:"gross,omitempty"`
	Fee           *money.Amount `json:"fee,omitempty"`
	PaymentFast   string        `json:"payment_fast,omitempty"`
	PaymentMethod string        `json:"payment_method,omitempty"` // paymentMethodIdentity, masked
	Contract      string        `json:"contract,omitempty"`
	Product       string        `json:"product,omitempty"`
}

// Report line types.
const (
	ReportAdvice = "Advice" // a successful payout
	ReportRefund = "Refund" // a payout returned after success
)

// ReportColumns are the daily report's columns in the order of the bank's
// page (developer.131.ru/docs/en/finance/payouts-daily-report, numbered
// 1–14). Columns are read by name, in any order.
var ReportColumns = []string{
	"operationId", "transactionDate", "finishedAt", "typeOfPayment", "paymentFast", "paymentSessionId",
	"contract", "paymentSessionMerchantMetadata", "paymentMethodIdentity", "product",
	"grossLocalAmount", "paymentLocalAmount", "feesLocalAmount", "currency",
}

// column indexes into the parser's column table: the documented columns,
// then the names of payrun's earlier sandbox format, still read.
const (
	colOperation = iota
	colTransaction
	colFinished
	colType
	colFast
	colSession
	colContract
	colMetadata
	colIdentity
	colProduct
	colGross
	colPayment
	colFees
	colCurrency
	colLegacyAmount
	colLegacyFee
	colLegacyFeeCurrency
	colLegacyMethod
	numColumns
)

var columnNames = append(slices.Clone(ReportColumns), "amount", "fee", "feeCurrency", "paymentMethod")

// maxReportSize bounds a report: one file, and everything a ZIP unpacks
// to (a 1M-operation day is ~250 MB).
const maxReportSize = 1 << 30

// XLSXReader reads a workbook's sheets as rows of raw cell text: numbers
// and dates as stored (a date is its serial number), text as written.
// internal/workbook provides it (workbook.ReadRaw), so that excelize is
// imported by one package.
type XLSXReader func(data []byte) ([][][]string, error)

// ReportOptions say how to read a report.
type ReportOptions struct {
	// Days are the days (YYYY-MM-DD) the report covers. Empty: from the
	// file names (see DaysFromName), else from its lines' days.
	Days []string
	// Zone is the bank's time zone, in which times without an offset
	// are read and the lines' days are taken; nil: ReportZone().
	Zone *time.Location
	// XLSX reads XLSX files; nil refuses them.
	XLSX XLSXReader
}

// NamedFile is a report file's name and bytes.
type NamedFile struct {
	Name string
	Data []byte
}

// ParseDailyReport reads the bank's daily report from r; source names it
// (a file name or URL). See ParseDailyReportFiles.
func ParseDailyReport(r io.Reader, source string, opt ReportOptions) (*DailyReport, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxReportSize+1))
	if err != nil {
		return nil, fmt.Errorf("bank report %s: read: %w", source, err)
	}
	if len(data) > maxReportSize {
		return nil, fmt.Errorf("bank report %s: larger than %d MB", source, maxReportSize>>20)
	}
	return ParseDailyReportFiles([]NamedFile{{Name: source, Data: data}}, opt)
}

// ParseDailyReportFiles reads a daily report from one file or from all the
// parts of a split report, in the formats the bank's page names (CSV, XLSX,
// a ZIP of either, several of them) and in every form it leaves open:
//
//   - a ZIP (PK\x03\x04) holding xl/workbook.xml is an XLSX; any other ZIP
//     holds parts (.csv, .xlsx, .zip), read in name order, at most
//     maxReportSize unpacked and 1000 members in all;
//   - CSV in UTF-8 with or without a byte-order mark, or Windows-1251 when
//     it is not valid UTF-8; the delimiter (',' ';' or tab) is the one the
//     header line uses most;
//   - columns by name in any order (ReportColumns; the legacy names amount,
//     fee, feeCurrency, paymentMethod too); a part without a header
//     continues the previous part's columns;
//   - times as YYYY-MM-DD HH:MM:SS, YYYY-MM-DD, RFC 3339, DD.MM.YYYY
//     HH:MM:SS, and in XLSX Excel serial numbers, read in opt.Zone when they
//     carry no offset;
//   - amounts as decimal major units with '.' or ',' (money.Parse, never a
//     float); an XLSX number cell such as 109.99999999999999 is rounded to
//     the currency's minor unit only when that moves it by at most 1e-9;
//   - an empty register (a zero-byte file, or a header alone) is a report
//     of no operations; it needs days from its name or opt.Days.
//
// Every line is checked (grossLocalAmount = paymentLocalAmount +
// feesLocalAmount when all three are given) and any bad line fails the
// whole report with where and what. paymentMethodIdentity passes
// cardmask.Redact.
func ParseDailyReportFiles(files []NamedFile, opt ReportOptions) (*DailyReport, error) {
	if len(files) == 0 {
		return nil, errors.New("bank report: no file")
	}
	if opt.Zone == nil {
		opt.Zone = ReportZone()
	}
	files = slices.Clone(files)
	slices.SortStableFunc(files, func(a, b NamedFile) int { return strings.Compare(a.Name, b.Name) })
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.Name
	}
	// The names and every text cell are the bank's (or whoever dropped
	// the file): stored and shown, so masked like all outside text.
	rawSource := strings.Join(names, " + ")
	source := cardmask.Redact(rawSource)
	rep := &DailyReport{Source: source}
	if len(files) == 1 {
		sum := sha256.Sum256(files[0].Data)
		rep.ID = hex.EncodeToString(sum[:])
	} else {
		h := sha256.New()
		for _, f := range files {
			sum := sha256.Sum256(f.Data)
			fmt.Fprintf(h, "%x\n", sum)
		}
		rep.ID = hex.EncodeToString(h.Sum(nil))
	}
	u := &unpacker{opt: opt}
	for _, f := range files {
		if err := u.unpack(f.Name, f.Data, 0); err != nil {
			return nil, fmt.Errorf("bank report %s: %w", source, err)
		}
	}
	p := &lineParser{zone: opt.Zone}
	var header []string
	for i, t := range u.tables {
		info := ReportFile{Name: cardmask.Redact(t.name), Format: t.format, Encoding: t.encoding, Delimiter: t.delimiter}
		seenHeader := false
		for {
			rec, j, err := t.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("bank report %s: %s: %w", source, t.name, err)
			}
			where := fmt.Sprintf("%s line %d", info.Name, j)
			if t.name == rawSource {
				where = fmt.Sprintf("line %d", j)
			}
			if blank(rec) {
				continue
			}
			if !seenHeader && info.Lines == 0 && isHeader(rec) {
				// A part may repeat the header or continue the one before.
				seenHeader, header = true, slices.Clone(rec)
				if err := p.setHeader(header); err != nil {
					return nil, fmt.Errorf("bank report %s: %s: %w", source, where, err)
				}
				continue
			}
			if header == nil {
				return nil, fmt.Errorf("bank report %s: %s: not a header (operationId, typeOfPayment, …)", source, where)
			}
			if len(rec) > len(header) && !blank(rec[len(header):]) {
				return nil, fmt.Errorf("bank report %s: %s: %d fields, the header has %d", source, where, len(rec), len(header))
			}
			if len(rec) < len(header) && t.format == formatCSV {
				return nil, fmt.Errorf("bank report %s: %s: %d fields, the header has %d", source, where, len(rec), len(header))
			}
			l, err := p.line(rec, t.format == formatXLSX)
			if err != nil {
				return nil, fmt.Errorf("bank report %s: %s: %w", source, where, err)
			}
			info.Lines++
			l.Line, l.File, l.FileLine = len(rep.Lines)+1, i+1, j
			rep.Lines = append(rep.Lines, l)
		}
		rep.Files = append(rep.Files, info)
	}
	if len(files) == 1 {
		rep.Part = PartFromName(files[0].Name)
		if rep.Part == 0 && len(u.tables) == 1 {
			rep.Part = PartFromName(u.tables[0].name)
		}
	}
	days, err := reportDays(opt.Days, files, u.tables, rep.Lines)
	if err != nil {
		return nil, fmt.Errorf("bank report %s: %w", source, err)
	}
	rep.Days = days
	return rep, nil
}

// reportDays decides the days a report covers: given, else from the
// names of its files (outer first), else from its lines.
func reportDays(given []string, files []NamedFile, tables []*table, lines []ReportLine) ([]string, error) {
	var days []string
	switch {
	case len(given) > 0:
		for _, d := range given {
			if _, err := time.Parse(time.DateOnly, d); err != nil {
				return nil, fmt.Errorf("day %q is not YYYY-MM-DD", d)
			}
		}
		days = slices.Clone(given)
	default:
		for _, f := range files {
			days = append(days, DaysFromName(f.Name)...)
		}
		if days == nil {
			for _, t := range tables {
				days = append(days, DaysFromName(t.name)...)
			}
		}
		if days == nil {
			for _, l := range lines {
				days = append(days, l.TransactionDate)
			}
		}
	}
	if len(days) == 0 {
		return nil, errors.New("an empty report (no operations) must say its day: a name <Project>_YYYY-MM-DD_YYYY-MM-DD, or the day given (--date)")
	}
	slices.Sort(days)
	return slices.Compact(days), nil
}

// isHeader reports whether a row is a header: it names operationId.
func isHeader(rec []string) bool {
	return slices.ContainsFunc(rec, func(s string) bool { return cleanName(s) == "operationId" })
}

func cleanName(s string) string { return strings.TrimSpace(strings.TrimPrefix(s, "\ufeff")) }

func blank(rec []string) bool {
	for _, s := range rec {
		if strings.TrimSpace(s) != "" {
			return false
		}
	}
	return true
}

// lineParser reads data lines by the current header.
type lineParser struct {
	zone *time.Location
	idx  [numColumns]int
}

// setHeader maps the header's names to columns and checks the required
// ones: operationId, typeOfPayment, currency, a date and an amount.
func (p *lineParser) setHeader(header []string) error {
	for i := range p.idx {
		p.idx[i] = -1
	}
	for i, name := range header {
		if j := slices.Index(columnNames, cleanName(name)); j >= 0 {
			if p.idx[j] >= 0 {
				return fmt.Errorf("header names %s twice", columnNames[j])
			}
			p.idx[j] = i
		}
	}
	var missing []string
	for _, need := range [][]int{{colOperation}, {colType}, {colCurrency}, {colFinished, colTransaction},
		{colPayment, colGross, colLegacyAmount}} {
		if !slices.ContainsFunc(need, func(c int) bool { return p.idx[c] >= 0 }) {
			alt := make([]string, len(need))
			for i, c := range need {
				alt[i] = columnNames[c]
			}
			missing = append(missing, strings.Join(alt, " or "))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("header lacks %s", strings.Join(missing, ", "))
	}
	return nil
}

// line reads one data line.
func (p *lineParser) line(rec []string, xlsx bool) (ReportLine, error) {
	col := func(c int) string {
		if i := p.idx[c]; i >= 0 && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	l := ReportLine{
		// Metadata stays as the bank sent it: the ledger reads the row it
		// names from it and stores it masked.
		OperationID: cardmask.Redact(col(colOperation)), SessionID: cardmask.Redact(col(colSession)), Metadata: col(colMetadata),
		PaymentFast: cardmask.Redact(col(colFast)), Contract: cardmask.Redact(col(colContract)), Product: cardmask.Redact(col(colProduct)),
		PaymentMethod: cardmask.Redact(firstNonEmpty(col(colIdentity), col(colLegacyMethod))),
	}
	if l.OperationID == "" {
		return l, errors.New("no operationId")
	}
	switch typ := col(colType); {
	case typ == "":
		return l, errors.New("no typeOfPayment")
	case strings.EqualFold(typ, ReportAdvice):
		l.Type = ReportAdvice
	case strings.EqualFold(typ, ReportRefund):
		l.Type = ReportRefund
	default:
		l.Type = cardmask.Redact(typ)
	}
	var day string
	for _, c := range []int{colTransaction, colFinished} {
		text := col(c)
		if text == "" {
			continue
		}
		t, err := parseReportTime(text, p.zone, xlsx)
		if err != nil {
			return l, fmt.Errorf("%s %q: %w", columnNames[c], text, err)
		}
		if c == colTransaction {
			l.CreatedAt = t.In(p.zone).Format(time.RFC3339)
		} else {
			l.FinishedAt = t.In(p.zone).Format(time.RFC3339)
		}
		day = t.In(p.zone).Format(time.DateOnly)
	}
	if day == "" {
		return l, errors.New("no transactionDate or finishedAt")
	}
	l.TransactionDate = day
	cur := strings.ToUpper(col(colCurrency))
	if !isCurrencyCode(cur) {
		return l, fmt.Errorf("currency %q is not an ISO 4217 code", col(colCurrency))
	}
	amount := func(c int, currency string) (*money.Amount, error) {
		text := col(c)
		if text == "" {
			return nil, nil
		}
		a, err := parseReportAmount(text, currency, xlsx)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", columnNames[c], text, err)
		}
		return &a, nil
	}
	payment, err := amount(colPayment, cur)
	if err != nil {
		return l, err
	}
	if payment == nil {
		if payment, err = amount(colLegacyAmount, cur); err != nil {
			return l, err
		}
	}
	gross, err := amount(colGross, cur)
	if err != nil {
		return l, err
	}
	fee, err := amount(colFees, cur)
	if err != nil {
		return l, err
	}
	if fee == nil {
		feeCur := cur
		if c := strings.ToUpper(col(colLegacyFeeCurrency)); c != "" {
			if !isCurrencyCode(c) {
				return l, fmt.Errorf("feeCurrency %q is not an ISO 4217 code", col(colLegacyFeeCurrency))
			}
			feeCur = c
		}
		if fee, err = amount(colLegacyFee, feeCur); err != nil {
			return l, err
		}
	}
	// Signs: a fee is what the bank took (the acquiring report writes it
	// negative); a refund line may carry the returned amount negative.
	// A paid operation of a negative amount is not one.
	for _, a := range []*money.Amount{payment, gross} {
		if a != nil && a.Minor < 0 {
			if l.Type != ReportRefund {
				return l, fmt.Errorf("%s of %s is negative", l.Type, a)
			}
			a.Minor = -a.Minor
		}
	}
	if fee != nil && fee.Minor < 0 {
		fee.Minor = -fee.Minor
	}
	switch {
	case payment != nil && gross != nil && fee != nil:
		if fee.Currency == cur && payment.Minor+fee.Minor != gross.Minor {
			return l, fmt.Errorf("grossLocalAmount %s ≠ paymentLocalAmount %s + feesLocalAmount %s", gross.Decimal(), payment.Decimal(), fee.Decimal())
		}
	case payment == nil && gross != nil && fee != nil && fee.Currency == cur:
		payment = &money.Amount{Minor: gross.Minor - fee.Minor, Currency: cur}
	case payment == nil && gross != nil:
		payment = &money.Amount{Minor: gross.Minor, Currency: cur}
	case payment == nil:
		return l, errors.New("no paymentLocalAmount or grossLocalAmount")
	}
	l.Amount, l.Gross, l.Fee = *payment, gross, fee
	return l, nil
}

func isCurrencyCode(c string) bool {
	if len(c) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if c[i] < 'A' || c[i] > 'Z' {
			return false
		}
	}
	return true
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
