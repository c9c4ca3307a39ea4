// The checks of the file as a whole, once its last record is read: the
// control totals and the batch's name.

package batch

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/money"
)

// fileError records a problem of the whole file; finishFile reports them.
func (s *scanner) fileError(e Error) { s.errs = append(s.errs, e) }

// finishFile checks the control totals and reports file-level errors.
func (s *scanner) finishFile() {
	if s.lay != nil && !s.truncated { // a file not read to its end has no totals to check
		if s.res.Rows == 0 && s.index == 0 {
			s.fileError(Error{Message: "the file has a header but no rows"})
		}
		if n := s.opts.ExpectCount; n > 0 && s.index != n {
			s.fileError(Error{Message: fmt.Sprintf("the file has %d rows, expected %d (control count)", s.index, n)})
		}
		if t := s.opts.ExpectTotal; t != "" {
			s.checkExpectTotal(t)
		}
	}
	if s.pass1 {
		s.checkBatchName()
	}
	s.maskErrors()
	if len(s.errs) > 0 && s.opts.OnRecord != nil {
		s.opts.OnRecord(&Record{Kind: RecordFile, Delimiter: s.delim, Header: s.header, Errors: s.errs})
	}
	s.flush()
}

func (s *scanner) checkExpectTotal(text string) {
	amounts := s.res.Totals.Amounts()
	switch {
	case len(amounts) == 0:
		return // every amount is wrong; those errors say enough
	case len(amounts) > 1:
		var curs []string
		for _, a := range amounts {
			curs = append(curs, a.Currency)
		}
		s.fileError(Error{Message: "a control total needs a file in one currency; this file has " + strings.Join(curs, ", ")})
		return
	}
	got := amounts[0]
	want, err := money.Parse(text, got.Currency)
	if err != nil {
		s.fileError(Error{Message: fmt.Sprintf("control total %s is not an amount in %s", quote(text), got.Currency)})
		return
	}
	if want.Minor != got.Minor {
		s.fileError(Error{Message: fmt.Sprintf("the file's total is %s, expected %s (control total)", got, want)})
	}
}

// checkBatchName checks Options.Name as free text.
func (s *scanner) checkBatchName() {
	v := strings.TrimSpace(s.opts.Name)
	if v == "" {
		return
	}
	msg := textProblem(v)
	if msg == "" {
		if masked, ok := cardmask.Find(v); ok {
			msg = "contains what looks like a card number (" + masked + "); a batch name must not hold card data"
		} else if n := utf8.RuneCountInString(v); n > maxText {
			msg = fmt.Sprintf("is %d characters long; at most %d", n, maxText)
		}
	}
	if msg != "" {
		s.fileError(Error{Column: "name", Message: msg})
	}
}
