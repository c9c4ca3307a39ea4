package batch

import (
	"fmt"
	"strings"
	"unicode"
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
	colSenderForeignDocNumber
	colSenderForeignDocValidFrom
	colSenderForeignDocValidTo
	colSenderForeignDocType
	colSenderForeignDocIssuedBy
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
	colReference:                 "reference",
	colMethod:                    "method",
	colAmount:                    "amount",
	colCurrency:                  "currency",
	colDescription:               "description",
	colEmail:                     "email",
	colPhone:                     "phone",
	colFullName:                  "full_name",
	colCardNumber:                "card_number",
	colCardToken:                 "card_token",
	colNumberHash:                "number_hash",
	colExpirationDateHash:        "expiration_date_hash",
	colCardholderNameHash:        "cardholder_name_hash",
	colSecurityCodeHash:          "security_code_hash",
	colCountry:                   "country",
	colTransferType:              "transfer_type",
	colIBAN:                      "iban",
	colRecipientCardToken:        "recipient_card_token",
	colSenderCardToken:           "sender_card_token",
	colRecipientFirstName:        "recipient_first_name",
	colRecipientLastName:         "recipient_last_name",
	colRecipientCitizenship:      "recipient_citizenship",
	colRecipientPhone:            "recipient_phone",
	colSenderFirstName:           "sender_first_name",
	colSenderLastName:            "sender_last_name",
	colSenderMiddleName:          "sender_middle_name",
	colSenderBirthDate:           "sender_birth_date",
	colSenderCitizenship:         "sender_citizenship",
	colSenderDocNumber:           "sender_document_number",
	colSenderDocIssueDate:        "sender_document_issue_date",
	colSenderDocIssuedBy:         "sender_document_issued_by",
	colSenderDocDivision:         "sender_document_division_code",
	colSenderForeignDocNumber:    "sender_foreign_document_number",
	colSenderForeignDocValidFrom: "sender_foreign_document_valid_from",
	colSenderForeignDocValidTo:   "sender_foreign_document_valid_to",
	colSenderForeignDocType:      "sender_foreign_document_type",
	colSenderForeignDocIssuedBy:  "sender_foreign_document_issued_by",
	colSenderPhone:               "sender_phone",
	colSenderCountry:             "sender_country",
	colSenderCity:                "sender_city",
	colSenderBuilding:            "sender_building",
	colSenderPostalCode:          "sender_postal_code",
	colSenderState:               "sender_state",
	colSenderStreet:              "sender_street",
	colSenderFlat:                "sender_flat",
	colSourceOfMoney:             "source_of_money",
	colErrorColumn:               ErrorColumnName,
	colErrorMessage:              ErrorMessageName,
}

// russianNames are the Russian names of every column, as 1C and Excel
// exports and Russian finance teams write them. The first is the one the
// README documents and a Russian template (--lang ru) writes. A header
// cell matches a name when the two fold to the same text (foldName).
var russianNames = [numCols][]string{
	colReference:                 {"Номер", "Табельный номер", "Таб. номер", "Табельный №", "Таб. №", "Референс", "Идентификатор"},
	colMethod:                    {"Способ выплаты", "Способ", "Метод"},
	colAmount:                    {"Сумма", "Сумма выплаты", "Сумма к выплате", "К выплате"},
	colCurrency:                  {"Валюта"},
	colDescription:               {"Назначение платежа", "Назначение", "Описание"},
	colEmail:                     {"Электронная почта", "Эл. почта", "Почта", "E-mail"},
	colPhone:                     {"Телефон", "Номер телефона"},
	colFullName:                  {"ФИО", "Ф.И.О.", "Получатель", "ФИО получателя", "ФИО сотрудника", "Сотрудник", "Работник"},
	colCardNumber:                {"Номер карты", "Номер банковской карты", "Номер карты получателя", "Карта"},
	colCardToken:                 {"Токен карты", "Токен"},
	colNumberHash:                {"Хеш номера карты", "Хэш номера карты"},
	colExpirationDateHash:        {"Хеш срока действия", "Хэш срока действия"},
	colCardholderNameHash:        {"Хеш имени держателя", "Хэш имени держателя"},
	colSecurityCodeHash:          {"Хеш кода безопасности", "Хэш кода безопасности"},
	colCountry:                   {"Страна назначения", "Страна"},
	colTransferType:              {"Тип перевода", "Способ получения"},
	colIBAN:                      {"IBAN получателя", "Счёт IBAN"},
	colRecipientCardToken:        {"Токен карты получателя"},
	colSenderCardToken:           {"Токен карты отправителя"},
	colRecipientFirstName:        {"Имя получателя"},
	colRecipientLastName:         {"Фамилия получателя"},
	colRecipientCitizenship:      {"Гражданство получателя"},
	colRecipientPhone:            {"Телефон получателя"},
	colSenderFirstName:           {"Имя отправителя"},
	colSenderLastName:            {"Фамилия отправителя"},
	colSenderMiddleName:          {"Отчество отправителя"},
	colSenderBirthDate:           {"Дата рождения отправителя", "Дата рождения"},
	colSenderCitizenship:         {"Гражданство отправителя"},
	colSenderDocNumber:           {"Номер документа отправителя", "Серия и номер документа", "Номер документа"},
	colSenderDocIssueDate:        {"Дата выдачи документа", "Дата выдачи"},
	colSenderDocIssuedBy:         {"Кем выдан документ", "Кем выдан"},
	colSenderDocDivision:         {"Код подразделения"},
	colSenderForeignDocNumber:    {"Номер документа иностранного гражданина"},
	colSenderForeignDocValidFrom: {"Документ иностранного гражданина действует с"},
	colSenderForeignDocValidTo:   {"Документ иностранного гражданина действует до"},
	colSenderForeignDocType:      {"Тип документа иностранного гражданина"},
	colSenderForeignDocIssuedBy:  {"Кем выдан документ иностранного гражданина"},
	colSenderPhone:               {"Телефон отправителя"},
	colSenderCountry:             {"Страна отправителя"},
	colSenderCity:                {"Город отправителя"},
	colSenderBuilding:            {"Дом отправителя"},
	colSenderPostalCode:          {"Индекс отправителя", "Почтовый индекс"},
	colSenderState:               {"Регион отправителя"},
	colSenderStreet:              {"Улица отправителя"},
	colSenderFlat:                {"Квартира отправителя"},
	colSourceOfMoney:             {"Источник средств"},
}

// RussianName is the documented Russian name of a column (the first of
// russianNames), or "" for a name the format does not know.
func RussianName(name string) string {
	if c, ok := columnByName[foldName(name)]; ok && len(russianNames[c]) > 0 {
		return russianNames[c][0]
	}
	return ""
}

// columnByName finds a known column by its folded name (foldName): the
// English names of columnNames and the Russian ones of russianNames.
var columnByName = func() map[string]col {
	m := make(map[string]col, 8*numCols)
	add := func(name string, c col) {
		k := foldName(name)
		if prev, dup := m[k]; dup && prev != c {
			panic("batch: column name " + name + " names two columns")
		}
		m[k] = c
	}
	for c, n := range columnNames {
		add(n, col(c))
	}
	for c, names := range russianNames {
		for _, n := range names {
			add(n, col(c))
		}
	}
	return m
}()

func (c col) String() string { return columnNames[c] }

// MetaPrefix marks columns carried into a row's metadata (Row.Meta, without
// the prefix) and its report line.
const MetaPrefix = "meta_"

// Column names the errors report writes. A file with both is an errors
// report, not a payout file, and is refused (see mapHeader).
const (
	ErrorColumnName  = "error_column"
	ErrorMessageName = "error_message"
)

// normalizeName is how header cells are shown and how meta_ names are
// kept: surrounding spaces (including no-break spaces) removed, lower case.
func normalizeName(s string) string {
	return strings.ToLower(strings.TrimSpace(strings.ReplaceAll(s, "\u00a0", " ")))
}

// foldName is how a header cell is matched against the known names: lower
// case, ё as е, and every run of spaces, no-break spaces, tabs,
// underscores, hyphens and dots as one underscore, none at either end. So
// "Номер карты", "номер_карты" and " НОМЕР  КАРТЫ " are one name, "Full
// Name" is full_name and "Ф.И.О." is "ф_и_о".
func foldName(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	sep := false
	for _, r := range s {
		switch r {
		case ' ', '\u00a0', '\t', '_', '-', '.':
			sep = true
			continue
		case 'ё', 'Ё':
			r = 'е'
		default:
			r = unicode.ToLower(r)
		}
		if sep && b.Len() > 0 {
			b.WriteByte('_')
		}
		sep = false
		b.WriteRune(r)
	}
	return b.String()
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
// first (a column named twice, in English, Russian or both, counts once);
// then every other name is a known column (columnByName), a meta_ column
// or unknown. A header with error_column or error_message is an errors
// report, which is refused: it lists failed rows for fixing the original.
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
		if problem := headerProblem(n); problem != "" {
			errs = append(errs, Error{Line: line, Column: quote(n), Message: problem})
			continue
		}
		if n == "" {
			l.unnamed = append(l.unnamed, i)
			continue
		}
		key, shown := n, cardmask.Redact(n)
		if c, known := columnByName[foldName(n)]; known {
			key, shown = "\x00"+c.String(), c.String()
		}
		if first, dup := seen[key]; dup {
			msg := fmt.Sprintf("column appears twice (columns %d and %d)", first+1, i+1)
			if a, b := strings.TrimSpace(rec[first]), strings.TrimSpace(rec[i]); normalizeName(a) != n {
				msg = fmt.Sprintf("column appears twice (columns %d and %d: %s and %s)", first+1, i+1, quote(a), quote(b))
			}
			errs = append(errs, Error{Line: line, Column: shown, Message: msg})
			continue
		}
		seen[key] = i
		names[i] = n
	}
	report := false
	for i, n := range names {
		if n == "" {
			continue
		}
		if c, known := columnByName[foldName(n)]; known {
			l.pos[c] = i
			report = report || c == colErrorColumn || c == colErrorMessage
			continue
		}
		if name, ok := strings.CutPrefix(n, MetaPrefix); ok && name != "" {
			l.meta = append(l.meta, metaColumn{name: name, pos: i})
			continue
		}
		errs = append(errs, Error{Line: line, Column: cardmask.Redact(strings.TrimSpace(rec[i])), Message: unknownColumn(cardmask.Redact(n))})
	}
	if report {
		errs = append(errs, Error{Line: line, Message: "this is an errors report payrun wrote (it has error_column and error_message), not a payout file: " +
			"fix the rows it lists in the original file and upload the original again"})
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

// unknownColumn explains an unknown column and names the closest known
// one in the same script: a name with Cyrillic letters is compared with
// the Russian names, any other with the English ones.
func unknownColumn(n string) string {
	f := foldName(n)
	best, bestD := "", 1<<30
	consider := func(name string) {
		if d := distance(f, foldName(name)); d < bestD {
			best, bestD = name, d
		}
	}
	if cyrillic(n) {
		for _, names := range russianNames {
			for _, name := range names {
				consider(name)
			}
		}
	} else {
		for c, name := range columnNames {
			if col(c) != colErrorColumn && col(c) != colErrorMessage {
				consider(name)
			}
		}
	}
	msg := "unknown column; did you mean " + best + "?"
	if utf8.RuneCountInString(n) <= 60 {
		msg += " (to carry it into the report, name it " + MetaPrefix + strings.ReplaceAll(n, " ", "_") + ")"
	}
	return msg
}

// cyrillic reports whether s has a Cyrillic letter.
func cyrillic(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Cyrillic, r) {
			return true
		}
	}
	return false
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
