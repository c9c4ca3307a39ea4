package batch

import (
	"fmt"
	"io"
	"strings"

	"github.com/gocarina/gocsv"

	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/spreadsheet"
	"github.com/payrun/payrun/internal/workbook"
)

// ExamplePrefix starts the reference of a template's example row. A row
// whose reference starts with it is refused, so an example left in a
// filled template is never paid.
const ExamplePrefix = "EXAMPLE-"

// templateColumns are the columns of each method's template, in order.
// They have no method column: the filled columns tell it.
var templateColumns = map[payout.Method][]col{
	payout.MethodCard:          {colReference, colFullName, colCardNumber, colAmount, colDescription, colEmail, colPhone},
	payout.MethodToken:         {colReference, colFullName, colCardToken, colAmount, colDescription, colEmail, colPhone},
	payout.MethodEncryptedCard: {colReference, colFullName, colNumberHash, colExpirationDateHash, colCardholderNameHash, colSecurityCodeHash, colAmount, colDescription},
	payout.MethodTransfer: {colReference, colAmount, colCurrency, colCountry, colTransferType, colIBAN, colRecipientCardToken,
		colRecipientFirstName, colRecipientLastName, colRecipientCitizenship, colRecipientPhone, colSenderCardToken,
		colSenderFirstName, colSenderLastName, colSenderMiddleName, colSenderBirthDate, colSenderCitizenship,
		colSenderDocNumber, colSenderDocIssueDate, colSenderDocIssuedBy, colSenderDocDivision,
		colSenderForeignDocNumber, colSenderForeignDocValidFrom, colSenderForeignDocValidTo, colSenderForeignDocType,
		colSenderForeignDocIssuedBy, colSenderPhone,
		colSenderCountry, colSenderCity, colSenderPostalCode, colSenderState, colSenderStreet, colSenderBuilding,
		colSenderFlat, colSourceOfMoney, colDescription},
}

// templateExample is the example row of each method, by column; [1] is the
// Russian template's where it differs. The card number is a test number
// (Luhn-valid, no card of anyone).
var templateExample = map[col][2]string{
	colReference:            {ExamplePrefix + "1", ""},
	colFullName:             {"Ivan Petrov", "Иванов Иван Иванович"},
	colCardNumber:           {"4242 4242 4242 4242", ""},
	colCardToken:            {"tok_5f2b9c1e8d7a4b3c", ""},
	colNumberHash:           {"93c6cdd33a610f6c0c4372d7450a80dc03745b214a704bd257392c1e8b3043f4", ""},
	colExpirationDateHash:   {"13a37e89af2d5a2845c30c1e895ca8cab6042c628d5e5aae844e10c0a96a25e8", ""},
	colAmount:               {"85000.00", ""},
	colDescription:          {"Example: replace this row with your payouts", "Пример: замените эту строку своими выплатами"},
	colEmail:                {"ivan.petrov@example.com", "ivanov@example.ru"},
	colPhone:                {"+79991234567", ""},
	colCurrency:             {"RUB", ""},
	colCountry:              {"TUR", ""},
	colTransferType:         {"iban", ""},
	colIBAN:                 {"TR330006100519786457841326", ""},
	colRecipientFirstName:   {"Emre", ""},
	colRecipientLastName:    {"Kaya", ""},
	colRecipientCitizenship: {"TUR", ""},
	colRecipientPhone:       {"+905321234567", ""},
	colSenderCardToken:      {"tok_sender_9a8b7c6d", ""},
	colSenderFirstName:      {"Ivan", "Иван"},
	colSenderLastName:       {"Ivanov", "Иванов"},
	colSenderMiddleName:     {"Petrovich", "Петрович"},
	colSenderBirthDate:      {"1985-03-14", ""},
	colSenderCitizenship:    {"RUS", ""},
	colSenderDocNumber:      {"4510 123456", ""},
	colSenderDocIssueDate:   {"2015-04-20", ""},
	colSenderDocIssuedBy:    {"Tverskoy district police, Moscow", "ОВД Тверского района г. Москвы"},
	colSenderDocDivision:    {"770-001", ""},
	colSenderPhone:          {"+79991234567", ""},
	colSenderCountry:        {"RUS", ""},
	colSenderCity:           {"Moscow", "Москва"},
	colSenderPostalCode:     {"125009", ""},
	colSenderStreet:         {"Tverskaya", "Тверская"},
	colSenderBuilding:       {"7", ""},
	colSenderFlat:           {"12", ""},
	colSourceOfMoney:        {"salary", "зарплата"},
}

// columnRules say, per column, whether it is required and its rule, in
// English and Russian: the template's rules sheet.
var columnRules = map[col][4]string{
	colReference: {"yes", "да", "1–64 of A–Z a–z 0–9 _ . : / -, unique in the file: the row's identity, e.g. employee id and period (E-001/2026-11)",
		"1–64 символов A–Z a–z 0–9 _ . : / -, без повторов в файле: идентификатор строки, например табельный номер и период (E-001/2026-11)"},
	colMethod: {"no", "нет", "card, token, encrypted_card or transfer; without it the filled columns tell the method",
		"card, token, encrypted_card или transfer; без неё способ определяется по заполненным колонкам"},
	colAmount: {"yes", "да", "in rubles (or the currency): 1500, 1500.50, 1 500,50; at most 2 decimals, above zero, at most 1 000 000.00 per row",
		"в рублях (или в валюте): 1500, 1500.50, 1 500,50; не больше 2 знаков после запятой, больше нуля, не больше 1 000 000,00 на строку"},
	colCurrency: {"for transfers", "для переводов", "ISO 4217; RUB for card payouts (the default); for a transfer RUB (what the sender pays) or the destination's currency (what the recipient gets)",
		"ISO 4217; для выплат на карту RUB (по умолчанию); для перевода RUB (платит отправитель) или валюта получателя (получает получатель)"},
	colDescription: {"no", "нет", "up to 210 characters", "до 210 символов"},
	colEmail:       {"no", "нет", "an address: name@example.com", "адрес: name@example.com"},
	colPhone:       {"no", "нет", "+ and 10–15 digits: +79991234567", "+ и 10–15 цифр: +79991234567"},
	colFullName:    {"yes", "да", "the recipient: 1–100 letters, spaces, - ' .", "получатель: 1–100 букв, пробелы, - ' ."},
	colCardNumber: {"yes", "да", "13–19 digits (spaces and dashes allowed), Luhn-valid; a cell formatted as text, never a number",
		"13–19 цифр (можно с пробелами и дефисами), с верной контрольной цифрой; ячейка в текстовом формате, не число"},
	colCardToken:          {"yes", "да", "the bank's card token", "токен карты от банка"},
	colNumberHash:         {"yes", "да", "64 hexadecimal characters from the bank's widget", "64 шестнадцатеричных символа из виджета банка"},
	colExpirationDateHash: {"no", "нет", "64 hexadecimal characters", "64 шестнадцатеричных символа"},
	colCardholderNameHash: {"no", "нет", "64 hexadecimal characters", "64 шестнадцатеричных символа"},
	colSecurityCodeHash:   {"no", "нет", "64 hexadecimal characters", "64 шестнадцатеричных символа"},
	colCountry:            {"yes", "да", "TUR or KGZ", "TUR или KGZ"},
	colTransferType: {"yes", "да", "cash (TUR, paid in USD), iban (TUR, TRY) or card (KGZ, KGS, MBANK cards)",
		"cash (TUR, выплата в USD), iban (TUR, TRY) или card (KGZ, KGS, карты MBANK)"},
	colIBAN:                      {"for iban", "для iban", "Turkish IBAN: TR and 24 digits", "турецкий IBAN: TR и 24 цифры"},
	colRecipientCardToken:        {"for card", "для card", "token of the recipient's card", "токен карты получателя"},
	colRecipientFirstName:        {"for iban, cash", "для iban, cash", "Latin letters, as in the passport", "латиницей, как в паспорте"},
	colRecipientLastName:         {"for iban, cash", "для iban, cash", "Latin letters, as in the passport", "латиницей, как в паспорте"},
	colRecipientCitizenship:      {"yes", "да", "ISO 3166-1 alpha-3: TUR, KGZ, RUS", "ISO 3166-1 alpha-3: TUR, KGZ, RUS"},
	colRecipientPhone:            {"no", "нет", "+ and 10–15 digits", "+ и 10–15 цифр"},
	colSenderCardToken:           {"yes", "да", "token of the sender's card, debited after 3-D Secure", "токен карты отправителя, списание после 3-D Secure"},
	colSenderFirstName:           {"yes", "да", "letters", "буквы"},
	colSenderLastName:            {"yes", "да", "letters", "буквы"},
	colSenderMiddleName:          {"no", "нет", "letters", "буквы"},
	colSenderBirthDate:           {"yes", "да", "YYYY-MM-DD; 18 or older", "ГГГГ-ММ-ДД; не младше 18 лет"},
	colSenderCitizenship:         {"yes", "да", "ISO 3166-1 alpha-3: RUS, or another country's (a foreign citizen)", "ISO 3166-1 alpha-3: RUS или другой страны (иностранный гражданин)"},
	colSenderDocNumber:           {"for RUS", "для RUS", "the Russian passport's series and number (spaces are dropped)", "серия и номер паспорта РФ (пробелы убираются)"},
	colSenderDocIssueDate:        {"for RUS", "для RUS", "YYYY-MM-DD", "ГГГГ-ММ-ДД"},
	colSenderForeignDocNumber:    {"for a foreign citizen", "для иностранного гражданина", "the series and number of the sender's own document (spaces are dropped)", "серия и номер документа отправителя (пробелы убираются)"},
	colSenderForeignDocValidFrom: {"for a foreign citizen", "для иностранного гражданина", "YYYY-MM-DD: the document is valid from", "ГГГГ-ММ-ДД: начало срока действия"},
	colSenderForeignDocValidTo:   {"no", "нет", "YYYY-MM-DD: the document is valid until", "ГГГГ-ММ-ДД: окончание срока действия"},
	colSenderForeignDocType:      {"no", "нет", "free text, e.g. Виза", "свободный текст, например Виза"},
	colSenderForeignDocIssuedBy:  {"no", "нет", "free text", "свободный текст"},
	colSenderDocIssuedBy:         {"no", "нет", "free text", "свободный текст"},
	colSenderDocDivision:         {"no", "нет", "free text", "свободный текст"},
	colSenderPhone:               {"yes", "да", "+ and the number: Russia or Kazakhstan (+7), Turkey (+90), Kyrgyzstan (+996)", "+ и номер: Россия или Казахстан (+7), Турция (+90), Киргизия (+996)"},
	colSenderCountry:             {"yes", "да", "ISO 3166-1 alpha-3: RUS", "ISO 3166-1 alpha-3: RUS"},
	colSenderCity:                {"yes", "да", "free text", "свободный текст"},
	colSenderPostalCode:          {"no", "нет", "free text", "свободный текст"},
	colSenderState:               {"no", "нет", "free text", "свободный текст"},
	colSenderStreet:              {"no", "нет", "free text", "свободный текст"},
	colSenderBuilding:            {"yes", "да", "free text", "свободный текст"},
	colSenderFlat:                {"no", "нет", "free text", "свободный текст"},
	colSourceOfMoney:             {"no", "нет", "free text", "свободный текст"},
}

// templateNotes open the rules sheet: how a filled template is read.
var templateNotes = [][2]string{
	{"One row per payout under the header; delete the example row (its reference starts with " + ExamplePrefix + ", which is refused).",
		"Одна строка на выплату под заголовком; удалите строку-пример (её номер начинается с " + ExamplePrefix + ", такая строка не принимается)."},
	{"Values only: a formula, a hidden row or column and merged cells are errors. The cells are text, so numbers keep every digit.",
		"Только значения: формулы, скрытые строки и колонки, объединённые ячейки — ошибки. Ячейки текстовые, чтобы номера не теряли цифр."},
	{"A last line \"Итого\" (or Всего, Total) with the sum and/or the number of rows is checked against the rows above and not paid.",
		"Последняя строка «Итого» (или Всего, Total) с суммой и/или числом строк сверяется со строками выше и не оплачивается."},
	{"Columns may be named in English or Russian, in any order; a meta_<name> column is carried into the report.",
		"Колонки можно называть по-английски или по-русски, в любом порядке; колонка meta_<имя> переносится в отчёт."},
}

// ParseTemplateFormat reads a template's format: "csv" (the default) or
// "xlsx".
func ParseTemplateFormat(s string) (string, error) {
	switch f := strings.ToLower(strings.TrimSpace(s)); f {
	case "", FormatCSV:
		return FormatCSV, nil
	case FormatXLSX:
		return FormatXLSX, nil
	}
	return "", fmt.Errorf("template format %q: use csv or xlsx", s)
}

// TemplateDialect is a CSV template's dialect when none is asked for:
// excel-ru for a Russian template, rfc4180 for an English one.
func TemplateDialect(lang string) spreadsheet.Dialect { return spreadsheet.DialectFor(lang) }

// WriteTemplate writes the payout file template of a method: the header of
// its columns, named in English or Russian (lang "ru"), and one example
// row; format "csv" in a dialect ("" for TemplateDialect), or "xlsx" with
// text cells and the rules as a second sheet. The template, its example
// row replaced by real payouts, is a valid upload.
func WriteTemplate(w io.Writer, method payout.Method, lang, format string, dialect spreadsheet.Dialect) error {
	cols, ok := templateColumns[method]
	if !ok {
		return fmt.Errorf("template: %q is not a method; use card, token, encrypted_card or transfer", method)
	}
	ru := lang == "ru"
	header := make([]string, len(cols))
	example := make([]string, len(cols))
	for i, c := range cols {
		header[i] = c.String()
		if ru {
			header[i] = russianNames[c][0]
		}
		ex := templateExample[c]
		example[i] = ex[0]
		if ru && ex[1] != "" {
			example[i] = ex[1]
		}
	}
	switch format {
	case FormatCSV, "":
		if dialect == "" {
			dialect = TemplateDialect(lang)
		}
		for i, c := range cols {
			if columnKinds[c] == kindNumber {
				example[i] = dialect.Decimal(example[i])
			}
		}
		if dialect.BOM() {
			if _, err := io.WriteString(w, "\uFEFF"); err != nil {
				return fmt.Errorf("write template: %w", err)
			}
		}
		cw := gocsv.DefaultCSVWriter(w)
		cw.Comma = dialect.Comma()
		cw.UseCRLF = dialect.CRLF()
		cw.Write(header)
		cw.Write(example)
		cw.Flush()
		if err := cw.Error(); err != nil {
			return fmt.Errorf("write template: %w", err)
		}
		return nil
	case FormatXLSX:
		return workbook.Write(w, []workbook.WriteSheet{templateSheet(method, header, example, ru), rulesSheet(cols, ru)})
	}
	return fmt.Errorf("template format %q: use csv or xlsx", format)
}

func templateSheet(method payout.Method, header, example []string, ru bool) workbook.WriteSheet {
	name := "Payouts " + string(method)
	if ru {
		name = "Выплаты " + string(method)
	}
	widths := make([]float64, len(header))
	for i := range header {
		widths[i] = float64(min(max(len([]rune(header[i])), len([]rune(example[i])))+2, 60))
	}
	return workbook.WriteSheet{Name: name, Rows: [][]string{header, example}, Header: true, Text: true, Widths: widths}
}

func rulesSheet(cols []col, ru bool) workbook.WriteSheet {
	lang := 0
	head := []string{"column", "Russian name", "required", "rule"}
	name := "Rules"
	if ru {
		lang = 1
		head = []string{"колонка", "английское имя", "обязательна", "правило"}
		name = "Правила"
	}
	var rows [][]string
	for _, n := range templateNotes {
		rows = append(rows, []string{n[lang]})
	}
	rows = append(rows, nil, head)
	for _, c := range cols {
		r := columnRules[c]
		first, second := c.String(), russianNames[c][0]
		if ru {
			first, second = second, first
		}
		rows = append(rows, []string{first, second, r[lang], r[2+lang]})
	}
	return workbook.WriteSheet{Name: name, Rows: rows, Wrap: true, Widths: []float64{30, 30, 16, 90}}
}
