package batch

import (
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gocarina/gocsv"

	"github.com/payrun/payrun/internal/cardmask"
)

// col is a known column of the payout file format.
type col int

// The known columns, in the order of the header struct's fields.
const (
	colReference col = iota
	colMethod
	colAmount
	colCurrency
	colDescription
	colEmail
	colPhone
	colFullName
	colCardNumber
	colCardToken
	colNumberHash
	colExpirationDateHash
	colCardholderNameHash
	colSecurityCodeHash
	colCountry
	colTransferType
	colIBAN
	colRecipientCardToken
	colSenderCardToken
	colRecipientFirstName
	colRecipientLastName
	colRecipientCitizenship
	colRecipientPhone
	colSenderFirstName
	colSenderLastName
	colSenderMiddleName
	colSenderBirthDate
	colSenderCitizenship
	colSenderDocNumber
	colSenderDocIssueDate
	colSenderDocIssuedBy
	colSenderDocDivision
	colSenderPhone
	colSenderCountry
	colSenderCity
	colSenderBuilding
	colSenderPostalCode
	colSenderState
	colSenderStreet
	colSenderFlat
	colSourceOfMoney
	colErrorColumn  // written by the errors report; ignored on upload
	colErrorMessage // written by the errors report; ignored on upload
	numCols
)

// header maps column names to their positions in a file. Its csv tags are
// the one list of column names the format knows; gocsv fills it from the
// file's normalised header (see mapHeader). A field holds position+1, so 0
// means the column is absent. Field i is column col(i).
type header struct {
	Reference            int `csv:"reference"`
	Method               int `csv:"method"`
	Amount               int `csv:"amount"`
	Currency             int `csv:"currency"`
	Description          int `csv:"description"`
	Email                int `csv:"email"`
	Phone                int `csv:"phone"`
	FullName             int `csv:"full_name"`
	CardNumber           int `csv:"card_number"`
	CardToken            int `csv:"card_token"`
	NumberHash           int `csv:"number_hash"`
	ExpirationDateHash   int `csv:"expiration_date_hash"`
	CardholderNameHash   int `csv:"cardholder_name_hash"`
	SecurityCodeHash     int `csv:"security_code_hash"`
	Country              int `csv:"country"`
	TransferType         int `csv:"transfer_type"`
	IBAN                 int `csv:"iban"`
	RecipientCardToken   int `csv:"recipient_card_token"`
	SenderCardToken      int `csv:"sender_card_token"`
	RecipientFirstName   int `csv:"recipient_first_name"`
	RecipientLastName    int `csv:"recipient_last_name"`
	RecipientCitizenship int `csv:"recipient_citizenship"`
	RecipientPhone       int `csv:"recipient_phone"`
	SenderFirstName      int `csv:"sender_first_name"`
	SenderLastName       int `csv:"sender_last_name"`
	SenderMiddleName     int `csv:"sender_middle_name"`
	SenderBirthDate      int `csv:"sender_birth_date"`
	SenderCitizenship    int `csv:"sender_citizenship"`
	SenderDocNumber      int `csv:"sender_document_number"`
	SenderDocIssueDate   int `csv:"sender_document_issue_date"`
	SenderDocIssuedBy    int `csv:"sender_document_issued_by"`
	SenderDocDivision    int `csv:"sender_document_division_code"`
	SenderPhone          int `csv:"sender_phone"`
	SenderCountry        int `csv:"sender_country"`
	SenderCity           int `csv:"sender_city"`
	SenderBuilding       int `csv:"sender_building"`
	SenderPostalCode     int `csv:"sender_postal_code"`
	SenderState          int `csv:"sender_state"`
	SenderStreet         int `csv:"sender_street"`
	SenderFlat           int `csv:"sender_flat"`
	SourceOfMoney        int `csv:"source_of_money"`
	ErrorColumn          int `csv:"error_column"`
	ErrorMessage         int `csv:"error_message"`
}

// columnNames lists the known column names by col, read from header's tags.
var columnNames = func() [numCols]string {
	var names [numCols]string
	t := reflect.TypeFor[header]()
	if t.NumField() != int(numCols) {
		panic("batch: header struct and column constants disagree")
	}
	for i := range t.NumField() {
		names[i] = t.Field(i).Tag.Get("csv")
	}
	return names
}()

// columnByName finds a known column by its normalised name.
var columnByName = func() map[string]col {
	m := make(map[string]col, numCols)
	for c, n := range columnNames {
		m[n] = col(c)
	}
	return m
}()

func (c col) String() string { return columnNames[c] }

// MetaPrefix marks columns carried into a row's metadata (Row.Meta, without
// the prefix) and its report line.
const MetaPrefix = "meta_"

// Column names the reader understands but that are not part of a payout:
// the error report adds them, so a corrected report can be uploaded as is.
const (
	ErrorColumnName  = "error_column"
	ErrorMessageName = "error_message"
)

// normalizeName is how header cells are compared: surrounding spaces
// (including no-break spaces) removed, lower case.
func normalizeName(s string) string {
	return strings.ToLower(strings.TrimSpace(strings.ReplaceAll(s, "\u00a0", " ")))
}

// layout is what a file's header tells: where every known column is, which
// cells are metadata and which are unnamed.
type layout struct {
	pos     [numCols]int // position in the record, -1 when absent
	meta    []metaColumn
	unnamed []int // positions with an empty header cell
	names   []string
}

type metaColumn struct {
	name string // without the prefix
	pos  int
}

// mapHeader reads a header record. gocsv matches the normalised names to
// the header struct's tags (it sees the header and one record holding each
// column's position); everything it leaves unmatched is checked here:
// meta_ columns, unnamed columns, unknown and repeated names.
func mapHeader(rec []string, line int) (*layout, []Error) {
	l := &layout{names: make([]string, len(rec))}
	var errs []Error
	norm := make([]string, len(rec))
	positions := make([]string, len(rec))
	seen := make(map[string]int, len(rec))
	for i, h := range rec {
		n := normalizeName(h)
		norm[i] = n
		positions[i] = strconv.Itoa(i + 1)
		l.names[i] = cardmask.Redact(n)
		if msg := headerProblem(n); msg != "" {
			errs = append(errs, Error{Line: line, Column: quote(n), Message: msg})
			norm[i] = "\x00bad" + strconv.Itoa(i) // never a tag, nor metadata
			continue
		}
		if n == "" {
			l.unnamed = append(l.unnamed, i)
			norm[i] = "\x00unnamed" + strconv.Itoa(i) // never a tag
			continue
		}
		if first, dup := seen[n]; dup {
			errs = append(errs, Error{Line: line, Column: cardmask.Redact(n),
				Message: fmt.Sprintf("column appears twice (columns %d and %d)", first+1, i+1)})
			norm[i] = "\x00dup" + strconv.Itoa(i)
			continue
		}
		seen[n] = i
	}

	var hs []header
	if err := gocsv.UnmarshalCSV(&sliceReader{records: [][]string{norm, positions}}, &hs); err != nil || len(hs) != 1 {
		// Cannot happen for a record of names and numbers; fail loudly.
		panic(fmt.Sprintf("batch: map header with gocsv: %v", err))
	}
	v := reflect.ValueOf(hs[0])
	for c := range numCols {
		l.pos[c] = int(v.Field(int(c)).Int()) - 1
	}

	for i, n := range norm {
		if _, known := columnByName[n]; known || strings.HasPrefix(n, "\x00") {
			continue
		}
		if name, ok := strings.CutPrefix(n, MetaPrefix); ok && name != "" {
			l.meta = append(l.meta, metaColumn{name: name, pos: i})
			continue
		}
		errs = append(errs, Error{Line: line, Column: cardmask.Redact(strings.TrimSpace(rec[i])), Message: unknownColumn(cardmask.Redact(n))})
	}
	return l, errs
}

// headerProblem checks a column name as text: a name becomes a metadata
// key (meta_…), so it may hold no card number and no invisible character.
func headerProblem(n string) string {
	if n == "" {
		return ""
	}
	if msg := textProblem(n); msg != "" {
		return "column name " + msg
	}
	if masked, ok := cardmask.Find(n); ok {
		return "column name contains what looks like a card number (" + masked + ")"
	}
	return ""
}

// sliceReader gives gocsv records that were already read.
type sliceReader struct{ records [][]string }

func (s *sliceReader) Read() ([]string, error) {
	if len(s.records) == 0 {
		return nil, io.EOF
	}
	r := s.records[0]
	s.records = s.records[1:]
	return r, nil
}

func (s *sliceReader) ReadAll() ([][]string, error) {
	r := s.records
	s.records = nil
	return r, nil
}

// unknownColumn explains an unknown column and names the closest known one.
func unknownColumn(n string) string {
	best, bestD := "", 1<<30
	for c, name := range columnNames {
		if col(c) == colErrorColumn || col(c) == colErrorMessage {
			continue
		}
		if d := distance(n, name); d < bestD {
			best, bestD = name, d
		}
	}
	msg := "unknown column; did you mean " + best + "?"
	if utf8.RuneCountInString(n) <= 60 {
		msg += " (to carry it into the report, name it " + MetaPrefix + strings.ReplaceAll(n, " ", "_") + ")"
	}
	return msg
}

// distance is the Levenshtein distance between a and b, over runes.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
