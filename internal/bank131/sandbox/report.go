package sandbox

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/encoding/charmap"

	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/money"
)

// ReportHeader is the daily payout report's header: the 14 columns of
// developer.131.ru/docs/en/finance/payouts-daily-report, in its order.
var ReportHeader = []string{
	"operationId", "transactionDate", "finishedAt", "typeOfPayment", "paymentFast", "paymentSessionId",
	"contract", "paymentSessionMerchantMetadata", "paymentMethodIdentity", "product",
	"grossLocalAmount", "paymentLocalAmount", "feesLocalAmount", "currency",
}

// Report defaults of a project (the contract number and product the
// bank's report names; the page's examples are 100-C-000000 and
// new_test_payouts).
const (
	DefaultContract = "100-C-000000"
	DefaultProduct  = "payouts"
)

// moscow is the bank's zone (its pages write times without an offset).
var moscow = time.FixedZone("MSK", 3*60*60)

// ReportFile is one file of a day's report: its name and bytes.
type ReportFile struct {
	Name string
	Data []byte
}

// ReportOptions override the report modes for one request (zero fields:
// the modes).
type ReportOptions struct {
	Format string // csv | xlsx
	Parts  int    // split the lines into this many files (0: Modes.ReportParts)
	Zip    string // off | one | each
}

// reportLine is one line of the report before it is written: the text of
// each column, and the amounts and times for typed XLSX cells.
type reportLine struct {
	at     time.Time
	rec    []string
	amount [3]string    // gross, payment, fee as plain decimals (XLSX number cells)
	times  [2]time.Time // transactionDate, finishedAt (XLSX date cells)
}

// DailyReport writes the bank's report of successful operations of date's
// day (in the report zone, Modes.ReportZone) for one project, in the
// format and modes the bank leaves open (README.md, "Daily report"): one
// file, or its parts, or ZIPs of them, named <Project>_YYYY-MM-DD_YYYY-MM-DD
// (parts _1, _2, …). A day without operations is an empty register.
func (s *Server) DailyReport(date time.Time, project string, opt ReportOptions) ([]ReportFile, error) {
	m := s.cfg.Modes
	if opt.Format == "" {
		opt.Format = m.ReportFormat
	}
	if opt.Parts <= 0 {
		opt.Parts = max(m.ReportParts, 1)
	}
	if opt.Zip == "" {
		opt.Zip = m.ReportZip
	}
	if opt.Format != modeCSV && opt.Format != modeXLSX {
		return nil, fmt.Errorf("report format %q: want csv or xlsx", opt.Format)
	}
	if opt.Zip != modeOff && opt.Zip != modeOne && opt.Zip != modeEach {
		return nil, fmt.Errorf("report zip %q: want off, one or each", opt.Zip)
	}
	s.mu.Lock()
	p, ok := s.projects[project]
	if !ok {
		s.mu.Unlock()
		return nil, fmt.Errorf("unknown project %q", project)
	}
	lines := s.reportLines(date, p)
	s.mu.Unlock()

	zone := s.reportZone()
	day := time.Date(date.In(zone).Year(), date.In(zone).Month(), date.In(zone).Day(), 0, 0, 0, 0, zone).Format(time.DateOnly)
	base := fmt.Sprintf("%s_%s_%s", project, day, day)
	ext := "." + opt.Format
	var files []ReportFile
	parts := split(lines, opt.Parts)
	for i, part := range parts {
		name := base + ext
		if len(parts) > 1 {
			name = fmt.Sprintf("%s_%d%s", base, i+1, ext)
		}
		header := i == 0 || m.ReportPartHeader == modeEvery
		var data []byte
		var err error
		if opt.Format == modeXLSX {
			data, err = s.reportXLSX(part, header)
		} else {
			data, err = s.reportCSV(part, header)
		}
		if err != nil {
			return nil, err
		}
		files = append(files, ReportFile{Name: name, Data: data})
	}
	switch opt.Zip {
	case modeOne:
		data, err := zipFiles(files)
		if err != nil {
			return nil, err
		}
		files = []ReportFile{{Name: base + ".zip", Data: data}}
	case modeEach:
		for i, f := range files {
			data, err := zipFiles([]ReportFile{f})
			if err != nil {
				return nil, err
			}
			files[i] = ReportFile{Name: strings.TrimSuffix(f.Name, ext) + ".zip", Data: data}
		}
	}
	return files, nil
}

// split cuts lines into n parts as even as can be (an empty day is one
// empty part).
func split(lines []reportLine, n int) [][]reportLine {
	if n <= 1 || len(lines) == 0 {
		return [][]reportLine{lines}
	}
	n = min(n, len(lines))
	out := make([][]reportLine, 0, n)
	size := (len(lines) + n - 1) / n
	for i := 0; i < len(lines); i += size {
		out = append(out, lines[i:min(i+size, len(lines))])
	}
	return out
}

func (s *Server) reportZone() *time.Location {
	if s.cfg.Modes.ReportZone == modeUTC {
		return time.UTC
	}
	return moscow
}

// reportLines lists the project's operations of the day: a succeeded
// payout is an Advice line (on the day it finished, or was created:
// Modes.ReportDay), a payout returned adds a Refund line on the day of the
// refund. Transfers are listed only with Modes.ReportTransfers include.
// Caller holds s.mu.
func (s *Server) reportLines(date time.Time, p *Project) []reportLine {
	m := s.cfg.Modes
	zone := s.reportZone()
	day := date.In(zone).Format(time.DateOnly)
	onDay := func(t time.Time) bool { return !t.IsZero() && t.In(zone).Format(time.DateOnly) == day }
	var lines []reportLine
	for _, sess := range s.order {
		po := sess.payout
		if po == nil || sess.project != s.projects[p.Name] || (sess.xfer != nil && m.ReportTransfers != modeInclude) {
			continue
		}
		succeeded := po.status == "succeeded" || len(po.refunds) > 0
		keyed := po.finished
		if m.ReportDay == modeCreated {
			keyed = po.createdAt
		}
		fee := po.fee
		if sess.xfer != nil {
			fee = 0 // the sender's card paid the transfer's commission (seed 003), not the partner's wallet
		}
		if succeeded && onDay(keyed) {
			lines = append(lines, s.reportLine(sess, p, po.id, "Advice", po.amount.Amount, fee, po.createdAt, po.finished))
		}
		for _, r := range po.refunds {
			if !onDay(r.CreatedAt.Time) {
				continue
			}
			id := po.id
			if m.ReportRefund == modeRefundID {
				id = r.ID
			}
			amount := po.amount.Amount
			if r.AmountDetails != nil {
				amount = r.AmountDetails.Amount
			}
			if m.ReportRefund == modeNegative {
				amount = -amount
			}
			lines = append(lines, s.reportLine(sess, p, id, "Refund", amount, 0, po.createdAt, r.CreatedAt.Time))
		}
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].at.Before(lines[j].at) })
	return lines
}

// reportLine renders one operation. amount and fee are minor units.
// Caller holds s.mu.
func (s *Server) reportLine(sess *session, p *Project, id, typ string, amount, fee int64, created, finished time.Time) reportLine {
	m := s.cfg.Modes
	zone := s.reportZone()
	cur := strings.ToUpper(sess.payout.amount.Currency)
	payment, gross := amount, amount+fee
	if m.ReportFee == modeDeducted {
		payment, gross = amount-fee, amount
	}
	shownFee := fee
	if m.ReportFeeSign == modeNegative {
		shownFee = -fee
	}
	if amount < 0 { // a refund shown negative: the fee stays as it is
		payment, gross = amount, amount
	}
	dec := func(minor int64) string {
		t := money.New(minor, cur).Decimal()
		if m.ReportAmounts == modePlain {
			if strings.Contains(t, ".") {
				t = strings.TrimRight(strings.TrimRight(t, "0"), ".")
			}
		}
		return t
	}
	text := func(minor int64) string {
		t := dec(minor)
		if m.ReportCSV == modeSemicolonComma {
			t = strings.Replace(t, ".", ",", 1)
		}
		return t
	}
	meta := string(sess.payout.metadata)
	if m.ReportMetadata == modeQuoted && meta != "" {
		b, _ := json.Marshal(meta)
		meta = string(b)
	}
	currency := cur
	if m.ReportCurrency == modeLower {
		currency = strings.ToLower(cur)
	}
	l := reportLine{
		at: finished,
		rec: []string{id, created.In(zone).Format(time.DateTime), finished.In(zone).Format(time.DateTime), typ,
			boolDigit(sess.payout.fast), sess.id, firstOf(p.Contract, DefaultContract), meta, identity(sess.payout), firstOf(p.Product, DefaultProduct),
			text(gross), text(payment), text(shownFee), currency},
		amount: [3]string{dec(gross), dec(payment), dec(shownFee)},
		times:  [2]time.Time{created.In(zone), finished.In(zone)},
	}
	return l
}

// identity is paymentMethodIdentity: the card masked as the page's example
// (420080******8800), or the account or phone paid.
func identity(p *payoutRec) string {
	m := p.method
	switch {
	case m == nil:
		return ""
	case m.Card != nil:
		bin := m.Card.BIN
		if bin == "" {
			bin = "******"
		} else {
			bin += "******"
		}
		return bin + p.last4
	case m.BankAccount != nil && m.BankAccount.RU != nil:
		return m.BankAccount.RU.Account
	case m.BankAccount != nil && m.BankAccount.IBAN != nil:
		return m.BankAccount.IBAN.Account
	case m.BankAccount != nil && m.BankAccount.FPS != nil:
		return m.BankAccount.FPS.Phone
	}
	return ""
}

func firstOf(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

func boolDigit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// reportCSV writes lines as CSV in the modes' delimiter and encoding; an
// empty register is the header alone, or zero bytes (Modes.ReportEmpty).
func (s *Server) reportCSV(lines []reportLine, header bool) ([]byte, error) {
	m := s.cfg.Modes
	if len(lines) == 0 && m.ReportEmpty == modeZero {
		return []byte{}, nil
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if m.ReportCSV != modeComma {
		w.Comma = ';'
	}
	if header {
		w.Write(ReportHeader)
	}
	for _, l := range lines {
		w.Write(l.rec)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, fmt.Errorf("write report: %w", err)
	}
	switch m.ReportEncoding {
	case modeUTF8BOM:
		return append([]byte("\ufeff"), b.Bytes()...), nil
	case modeWindows1251:
		enc, err := charmap.Windows1251.NewEncoder().Bytes(b.Bytes())
		if err != nil {
			return nil, fmt.Errorf("write report in Windows-1251: %w", err)
		}
		return enc, nil
	}
	return b.Bytes(), nil
}

func zipFiles(files []ReportFile) ([]byte, error) {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, f := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Deflate})
		if err != nil {
			return nil, fmt.Errorf("zip report: %w", err)
		}
		if _, err := w.Write(f.Data); err != nil {
			return nil, fmt.Errorf("zip report: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("zip report: %w", err)
	}
	return b.Bytes(), nil
}

// serveReport answers GET /sandbox/report?date=YYYY-MM-DD[&project=NAME]
// [&format=csv|xlsx][&parts=N][&part=K][&zip=off|one|each]: one file of
// the day's report (a part by number when there are several; with zip one,
// all of them in one ZIP). project may be left out when there is one.
func (s *Server) serveReport(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	date, err := time.ParseInLocation(time.DateOnly, q.Get("date"), s.reportZone())
	if err != nil {
		http.Error(w, "date=YYYY-MM-DD is required", http.StatusBadRequest)
		return
	}
	project := q.Get("project")
	if project == "" {
		s.mu.Lock()
		if len(s.projects) == 1 {
			for name := range s.projects {
				project = name
			}
		}
		s.mu.Unlock()
		if project == "" {
			http.Error(w, "project=NAME is required: the bank reports per project", http.StatusBadRequest)
			return
		}
	}
	opt := ReportOptions{Format: q.Get("format"), Zip: q.Get("zip")}
	if v := q.Get("parts"); v != "" {
		if opt.Parts, err = strconv.Atoi(v); err != nil || opt.Parts < 1 {
			http.Error(w, "parts=N wants a number ≥ 1", http.StatusBadRequest)
			return
		}
	}
	files, err := s.DailyReport(date, project, opt)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f := files[0]
	if len(files) > 1 {
		k, err := strconv.Atoi(q.Get("part"))
		if err != nil || k < 1 || k > len(files) {
			http.Error(w, fmt.Sprintf("the report has %d files: name one with part=1..%d, or ask for zip=one", len(files), len(files)),
				http.StatusBadRequest)
			return
		}
		f = files[k-1]
	}
	ctype := "text/csv; charset=utf-8"
	switch {
	case strings.HasSuffix(f.Name, ".zip"):
		ctype = "application/zip"
	case strings.HasSuffix(f.Name, ".xlsx"):
		ctype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	case s.cfg.Modes.ReportEncoding == modeWindows1251:
		ctype = "text/csv; charset=windows-1251"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s"`, f.Name))
	w.Header().Set("X-Report-Files", strconv.Itoa(len(files)))
	w.Write(f.Data)
}

// DropReport writes a day's report files of every project (project "":
// all) into the report drop folder (Config.ReportDir), as the bank's SFTP
// delivery would: each under a temporary name first, then renamed into
// place, so a reader never sees half a file. It returns the paths.
func (s *Server) DropReport(date time.Time, project string) ([]string, error) {
	dir := s.cfg.ReportDir
	if dir == "" {
		return nil, errors.New("no report folder (--report-dir)")
	}
	var projects []string
	s.mu.Lock()
	for name := range s.projects {
		if project == "" || name == project {
			projects = append(projects, name)
		}
	}
	s.mu.Unlock()
	if len(projects) == 0 {
		return nil, fmt.Errorf("unknown project %q", project)
	}
	sort.Strings(projects)
	var paths []string
	for _, name := range projects {
		files, err := s.DailyReport(date, name, ReportOptions{})
		if err != nil {
			return paths, err
		}
		for _, f := range files {
			path := filepath.Join(dir, f.Name)
			tmp := filepath.Join(dir, "."+f.Name+".part")
			if err := os.WriteFile(tmp, f.Data, 0o644); err != nil {
				return paths, fmt.Errorf("drop report: %w", err)
			}
			if err := os.Rename(tmp, path); err != nil {
				return paths, fmt.Errorf("drop report: %w", err)
			}
			paths = append(paths, path)
		}
	}
	s.log.Info("report dropped", "day", date.In(s.reportZone()).Format(time.DateOnly), "files", len(paths))
	return paths, nil
}

// serveDropReport answers POST /sandbox/report/drop?date=YYYY-MM-DD
// [&project=NAME] with the paths written.
func (s *Server) serveDropReport(w http.ResponseWriter, r *http.Request) {
	date, err := time.ParseInLocation(time.DateOnly, r.URL.Query().Get("date"), s.reportZone())
	if err != nil {
		http.Error(w, "date=YYYY-MM-DD is required", http.StatusBadRequest)
		return
	}
	paths, err := s.DropReport(date, r.URL.Query().Get("project"))
	if err != nil {
		s.log.Error("drop report", logkey.Error, err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	b, _ := marshal(struct {
		Files []string `json:"files"`
	}{paths})
	writeJSON(w, http.StatusOK, b)
}

// dropDaily drops the report of each day that ended into the report
// folder, a minute after the day's end in the report zone, until the
// server closes.
func (s *Server) dropDaily(done <-chan struct{}) {
	last := s.now().In(s.reportZone()).Format(time.DateOnly)
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		now := s.now().In(s.reportZone())
		today := now.Format(time.DateOnly)
		if today == last {
			continue
		}
		yesterday := now.AddDate(0, 0, -1)
		if _, err := s.DropReport(yesterday, ""); err != nil {
			s.log.Error("daily report drop", logkey.Error, err)
		}
		last = today
	}
}
