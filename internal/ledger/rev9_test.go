package ledger

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/spreadsheet"
)

// rev9Card is a Luhn-valid test card number.
const rev9Card = "4111111111111111"

// requireNoCardOnDisk fails if the ledger's files (the database, its WAL)
// hold the card number in any of its spellings.
func requireNoCardOnDisk(t *testing.T, s *Service) {
	t.Helper()
	// Checkpoint nothing away: read the database and its WAL as they are.
	files, _ := filepath.Glob(s.db.Path() + "*")
	require.NotEmpty(t, files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, spelling := range []string{rev9Card, "4111 1111 1111 1111", "4111-1111-1111-1111"} {
			require.False(t, bytes.Contains(b, []byte(spelling)), "%s holds the card number %q", filepath.Base(f), spelling)
		}
	}
}

// TestRev9BankReportTextMasked: the bank's daily report is text from
// outside (a file dropped into a folder, or posted to /reports/bank), and
// every text cell of it is stored (bank_report_lines) and shown. Only
// paymentMethodIdentity passed the masker: a card number in the metadata,
// the contract, the product, the session id, the type or the operation id
// (a hostile or broken file) reached the ledger's disk in full.
func TestRev9BankReportTextMasked(t *testing.T) {
	s, c, b := released(t, 2)
	payRowFee(t, s, b.ID, 1, nil)
	var sb strings.Builder
	w := csv.NewWriter(&sb)
	w.Write(bank131.ReportColumns)
	for _, l := range [][]string{
		// an operation naming no row of ours, every text cell a card number
		{"po_" + rev9Card, "2026-11-25 12:00:00", "2026-11-25 12:00:01", "Advice", "0", "ps_" + rev9Card,
			"100-C-" + rev9Card, `{"note":"4111 1111 1111 1111"}`, rev9Card, "payouts " + rev9Card, "110", "100", "10", "RUB"},
		// a type the ledger does not know, with a card number
		{"po_9", "2026-11-25 12:00:00", "2026-11-25 12:00:01", "Advice-" + rev9Card, "0", "ps_9",
			"contract", "", "", "", "110", "100", "10", "RUB"},
	} {
		w.Write(l)
	}
	w.Flush()
	c.Add(48 * 3600e9)
	_, err := s.ImportBankReport(context.Background(), strings.NewReader(sb.String()), "all_2026-11-25_2026-11-25.csv")
	require.NoError(t, err)
	requireNoCardOnDisk(t, s)
}

// TestRev9AuditCSVGuardsEveryFormula: the audit log's CSV export is opened
// in a spreadsheet like the reports, and some of its cells are whatever a
// person sent (an upload's file name is the entry's target). It had a
// guard of its own that looked at the first character only, so
// " =HYPERLINK(…)" (a file name with a space in front) went out as a
// formula; spreadsheet.SafeCell, the one rule, skips leading spaces.
func TestRev9AuditCSVGuardsEveryFormula(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteAuditCSV(&buf, []auth.Entry{{Seq: 1, User: "mia", Action: auth.ActUpload, Outcome: auth.OutcomeRefused,
		Target: ` =HYPERLINK("http://evil.example/","payroll").csv`, Detail: "  +1+2"}}))
	recs, err := csv.NewReader(&buf).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, 2)
	for _, cell := range recs[1] {
		require.Equal(t, spreadsheet.SafeCell(cell), cell, "audit CSV cell %q would run as a formula", cell)
	}
}

// TestRev9ReasonsRefuseControlCharacters: a reason, a comment or a
// resolution is read by an auditor in the console, in the audit CSV and
// in `ledger audit` on a terminal. An ANSI escape (ESC [ …) rewrites what
// the terminal shows, and a bidirectional override (U+202E) what a page
// shows ("approved" read backwards); the payout file refuses both in
// every cell, the people's own text took them.
func TestRev9ReasonsRefuseControlCharacters(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	mia, carol, _ := people(t, s)
	b := uniqueBatch(2, "control characters")
	b.Manifest.UploadedBy, b.Manifest.UploaderID = mia.Name, mia.UserID
	record(t, s, b.msgs(nextSeq.Add(1000)))
	for _, reason := range []string{"month end\x1b[2K\x1b[1Aapproved by the CFO", "ok \u202edevorppa", "zero\u200bwidth", "bell\a", "c1\u0085x"} {
		err := s.DecideAs(ctx, principalOf(carol, auth.RoleChecker), auth.ActHold,
			ledgerapi.RowCommand{Batch: b.ID, Reason: reason}, s.Hold)
		require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeInvalid), "reason %q: %v", reason, err)
		_, err = s.CancelAs(ctx, carol, b.ID, reason)
		require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeInvalid), "reason %q: %v", reason, err)
	}
	// Line breaks and tabs are text.
	require.NoError(t, s.DecideAs(ctx, principalOf(carol, auth.RoleChecker), auth.ActHold,
		ledgerapi.RowCommand{Batch: b.ID, Reason: "month end:\r\n\tHR asks"}, s.Hold))
}

// TestRev9CapturedCardBrandMasked: token/info's brand is the bank's text,
// stored with the row's card (row_cards.brand) and shown; it passed
// nothing. A brand that is a card number (a broken or hostile answer)
// reached the ledger's file in full.
func TestRev9CapturedCardBrandMasked(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	mia, _, _ := people(t, s)
	sum := sealAs(t, s, widgetBatch("brand"), mia)
	require.NoError(t, s.ReleaseDue(ctx))
	l, err := s.IssueLink(ctx, principal(mia, auth.RoleMaker), sum.Batch, 1, 0)
	require.NoError(t, err)
	_, err = s.CaptureCard(ctx, l.ID, testCard('a'), CardInfo{Last4: "1111", Brand: "visa " + rev9Card}, "127.0.0.1:2")
	require.NoError(t, err)
	requireNoCardOnDisk(t, s)
}
