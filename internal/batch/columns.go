package batch

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/payrun/payrun/internal/cardmask"
)

// col is a known column of the payout file format.
type col int

// The known columns; columnNames holds their names.
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

// columnNames are the known column names by col: the one list of column
// names the format knows.
var columnNames = [numCols]string{
	colReference:            "reference",
	colMethod:               "method",
	colAmount:               "amount",
	colCurrency:             "currency",
	colDescription:          "description",
	colEmail:                "email",
	colPhone:                "phone",
	colFullName:             "full_name",
	colCardNumber:           "card_number",
	colCardToken:            "card_token",
	colNumberHash:           "number_hash",
	colExpirationDateHash:   "expiration_date_hash",
	colCardholderNameHash:   "cardholder_name_hash",
	colSecurityCodeHash:     "security_code_hash",
	colCountry:              "country",
	colTransferType:         "transfer_type",
	colIBAN:                 "iban",
	colRecipientCardToken:   "recipient_card_token",
	colSenderCardToken:      "sender_card_token",
	colRecipientFirstName:   "recipient_first_name",
	colRecipientLastName:    "recipient_last_name",
	colRecipientCitizenship: "recipient_citizenship",
	colRecipientPhone:       "recipient_phone",
	colSenderFirstName:      "sender_first_name",
	colSenderLastName:       "sender_last_name",
	colSenderMiddleName:     "sender_middle_name",
	colSenderBirthDate:      "sender_birth_date",
	colSenderCitizenship:    "sender_citizenship",
	colSenderDocNumber:      "sender_document_number",
	colSenderDocIssueDate:   "sender_document_issue_date",
	colSenderDocIssuedBy:    "sender_document_issued_by",
	colSenderDocDivision:    "sender_document_division_code",
	colSenderPhone:          "sender_phone",
	colSenderCountry:        "sender_country",
	colSenderCity:           "sender_city",
	colSenderBuilding:       "sender_building",
	colSenderPostalCode:     "sender_postal_code",
	colSenderState:          "sender_state",
	colSenderStreet:         "sender_street",
	colSenderFlat:           "sender_flat",
	colSourceOfMoney:        "source_of_money",
	colErrorColumn:          ErrorColumnName,
	colErrorMessage:         ErrorMessageName,
}

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

// mapHeader reads a header record. Names that cannot be columns (a card
// number, an invisible character), unnamed and repeated columns are found
// first; then every other name is a known column (columnByName), a meta_
// column or unknown.
func mapHeader(rec []string, line int) (*layout, []Error) {
	l := &layout{names: make([]string, len(rec))}
	for c := range l.pos {
		l.pos[c] = -1
	}
	var errs []Error
	names := make([]string, len(rec)) // normalised; "" when not a column name
	seen := make(map[string]int, len(rec))
	for i, h := range rec {
		n := normalizeName(h)
		l.names[i] = cardmask.Redact(n)
		problem := headerProblem(n)
		switch first, dup := seen[n]; {
		case problem != "":
			errs = append(errs, Error{Line: line, Column: quote(n), Message: problem})
		case n == "":
			l.unnamed = append(l.unnamed, i)
		case dup:
			errs = append(errs, Error{Line: line, Column: cardmask.Redact(n),
				Message: fmt.Sprintf("column appears twice (columns %d and %d)", first+1, i+1)})
		default:
			seen[n] = i
			names[i] = n
		}
	}
	for i, n := range names {
		if n == "" {
			continue
		}
		if c, known := columnByName[n]; known {
			l.pos[c] = i
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
