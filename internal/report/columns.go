package report

import (
	"strings"

	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/reason"
	"github.com/payrun/payrun/internal/reconcile"
)

// cellKind is what a cell holds, which says how each file writes it.
type cellKind uint8

const (
	kindText  cellKind = iota // text (guarded by spreadsheet.SafeCell, in CSV SafeCSVCell)
	kindInt                   // a count
	kindMoney                 // decimal major units in a currency (exp: its decimals)
	kindRate                  // a plain decimal number (an FX rate)
	kindTime                  // RFC 3339 UTC text: a date cell in XLSX
)

// cell is one value of a row, a totals line or a summary line.
type cell struct {
	kind cellKind
	exp  int8
	n    int64
	text string
	cur  string // kindMoney: the currency
}

func textCell(s string) cell { return cell{text: s} }
func intCell(n int) cell     { return cell{kind: kindInt, n: int64(n)} }

// moneyCell is decimal text in a currency; no text is an empty cell.
func moneyCell(text, currency string) cell {
	if text == "" {
		return cell{}
	}
	return cell{kind: kindMoney, text: text, cur: currency, exp: int8(money.Exponent(currency))}
}

// rateCell is a rate as the bank wrote it: a number when it is a plain
// decimal, else text.
func rateCell(text string) cell {
	if !plainDecimal(text) {
		return textCell(text)
	}
	return cell{kind: kindRate, text: text}
}

// timeCell is a time as the report keeps it (RFC 3339 UTC); none is empty.
func timeCell(text string) cell {
	if text == "" {
		return cell{}
	}
	return cell{kind: kindTime, text: text}
}

func (c *cell) empty() bool { return c.kind == kindText && c.text == "" }

// plainDecimal: digits, optionally "." and digits, an optional minus.
func plainDecimal(v string) bool {
	v = strings.TrimPrefix(v, "-")
	whole, frac, dot := strings.Cut(v, ".")
	return whole != "" && digitsOnly(whole) && (!dot || frac != "" && digitsOnly(frac))
}

func digitsOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// column is one column of the rows' table in CSV and XLSX: its machine
// name (the English header), its Russian header, its width in XLSX (0:
// as wide as its longest value, measured; else this many characters, for
// values of a known size: times, currencies, states; never money, whose
// totals the measuring sums), whether it holds
// long text (wrapped in XLSX), and how a row fills it in a language.
// Adding a column is one line here (and its field in Row).
type column struct {
	name, ru string
	width    int
	wrap     bool
	value    func(r *Row, lang string) cell
}

// rowColumns are the columns every report has, in order; the description
// column and the batch's meta_ columns follow them (header).
var rowColumns = []column{
	{"row", "Строка", 8, false, func(r *Row, _ string) cell { return intCell(r.Row) }},
	{"reference", "Номер", 0, false, func(r *Row, _ string) cell { return textCell(r.Reference) }},
	{"method", "Способ", 22, false, func(r *Row, lang string) cell { return textCell(word(lang, r.Method)) }},
	{"recipient", "Получатель", 0, false, func(r *Row, _ string) cell { return textCell(r.Recipient) }},
	{"destination", "Реквизиты", 0, false, func(r *Row, _ string) cell { return textCell(r.Destination) }},
	{"amount", "Сумма", 0, false, func(r *Row, _ string) cell { return moneyCell(r.Amount, r.Currency) }},
	{"currency", "Валюта", 9, false, func(r *Row, _ string) cell { return textCell(r.Currency) }},
	{"status", "Статус", 20, false, func(r *Row, lang string) cell { return textCell(word(lang, r.Status)) }},
	{"fee", "Комиссия банка", 0, false, func(r *Row, _ string) cell { return moneyCell(r.Fee, r.FeeCurrency) }},
	{"fee_currency", "Валюта комиссии банка", 9, false, func(r *Row, _ string) cell { return textCell(r.FeeCurrency) }},
	{"source_amount", "Сумма списания", 0, false, func(r *Row, _ string) cell { return moneyCell(r.SourceAmount, r.SourceCurrency) }},
	{"source_currency", "Валюта списания", 9, false, func(r *Row, _ string) cell { return textCell(r.SourceCurrency) }},
	{"destination_amount", "Сумма получателю", 0, false, func(r *Row, _ string) cell {
		return moneyCell(r.DestinationAmount, r.DestinationCurrency)
	}},
	{"destination_currency", "Валюта получателя", 9, false, func(r *Row, _ string) cell { return textCell(r.DestinationCurrency) }},
	{"fx_rate", "Курс", 0, false, func(r *Row, _ string) cell { return rateCell(r.FXRate) }},
	{"commission", "Комиссия перевода", 0, false, func(r *Row, _ string) cell { return moneyCell(r.Commission, r.CommissionCurrency) }},
	{"commission_currency", "Валюта комиссии перевода", 9, false, func(r *Row, _ string) cell { return textCell(r.CommissionCurrency) }},
	{"tcn", "Контрольный номер перевода", 0, false, func(r *Row, _ string) cell { return textCell(r.TCN) }},
	{"action_url", "Ссылка 3-D Secure", 0, false, func(r *Row, _ string) cell { return textCell(r.ActionURL) }},
	{"action_expires_at", "Ссылка действует до", 21, false, func(r *Row, _ string) cell { return timeCell(r.ActionExpiresAt) }},
	{"error_code", "Код ошибки", 0, false, func(r *Row, _ string) cell { return textCell(r.ErrorCode) }},
	{"reason", "Причина", 0, true, func(r *Row, _ string) cell { return textCell(r.Reason) }},
	{"next_step", "Что делать", 0, true, func(r *Row, _ string) cell { return textCell(r.NextStep) }},
	{"reason_detail", "Подробности", 0, true, func(r *Row, _ string) cell { return textCell(r.ReasonDetail) }},
	{"received_at", "Получено", 21, false, func(r *Row, _ string) cell { return timeCell(r.ReceivedAt) }},
	{"finished_at", "Завершено", 21, false, func(r *Row, _ string) cell { return timeCell(r.FinishedAt) }},
	{"updated_at", "Обновлено", 21, false, func(r *Row, _ string) cell { return timeCell(r.UpdatedAt) }},
	{"attempts", "Попыток", 9, false, func(r *Row, _ string) cell { return intCell(r.Attempts) }},
	{"bank_session", "Сессия банка", 0, false, func(r *Row, _ string) cell { return textCell(r.BankSession) }},
	{"bank_payout", "Выплата банка", 0, false, func(r *Row, _ string) cell { return textCell(r.BankPayout) }},
	{"webhook", "Вебхук банка", 0, false, func(r *Row, _ string) cell { return textCell(r.Webhook) }},
	{"session_status", "Ответ session/status", 0, false, func(r *Row, _ string) cell { return textCell(r.SessionStatus) }},
	{"bank_report", "Отчёт банка", 0, true, func(r *Row, _ string) cell { return textCell(r.BankReport) }},
	{"reconciliation", "Сверка", 18, false, func(r *Row, lang string) cell { return textCell(word(lang, r.Reconciliation)) }},
	{"exception", "Расхождение", 0, false, func(r *Row, _ string) cell { return textCell(r.exceptionCodes()) }},
	{"exception_detail", "Подробности расхождения", 0, true, func(r *Row, _ string) cell { return textCell(r.exceptionTexts()) }},
	{"held", "Остановлена", 0, true, func(r *Row, _ string) cell { return textCell(r.Held) }},
	{"decision", "Решение", 0, true, func(r *Row, _ string) cell { return textCell(r.Decision) }},
	{"resubmit", "Повторная отправка", 0, false, func(r *Row, _ string) cell { return textCell(r.Resubmit) }},
}

// Columns are the CSV and XLSX columns every report has, in order (their
// English headers); then come "description" and one meta_<name> column
// per meta name in the batch, sorted.
func Columns() []string {
	out := make([]string, len(rowColumns))
	for i, c := range rowColumns {
		out[i] = c.name
	}
	return out
}

// descriptionColumn follows rowColumns in CSV and XLSX.
var descriptionColumn = column{"description", "Назначение", 0, true, nil}

// metaPrefix names a meta column, as in the payout file.
const metaPrefix = "meta_"

// header is the rows' header in lang for the meta names: the fixed
// columns, description, then meta_<name> per name (as the file named it,
// in both languages).
func header(lang string, metaKeys []string) []string {
	ru := reason.Lang(lang) == reason.Russian
	h := make([]string, 0, len(rowColumns)+1+len(metaKeys))
	for _, c := range append(rowColumns[:len(rowColumns):len(rowColumns)], descriptionColumn) {
		if ru {
			h = append(h, c.ru)
		} else {
			h = append(h, c.name)
		}
	}
	for _, k := range metaKeys {
		h = append(h, metaPrefix+k)
	}
	return h
}

// wrapped reports which of header's columns hold long text.
func wrapped(metaKeys []string) []bool {
	w := make([]bool, 0, len(rowColumns)+1+len(metaKeys))
	for _, c := range rowColumns {
		w = append(w, c.wrap)
	}
	w = append(w, descriptionColumn.wrap)
	for range metaKeys {
		w = append(w, false)
	}
	return w
}

// cells lays a row out in header order into buf (reused).
func (row *Row) cells(lang string, metaKeys []string, buf []cell) []cell {
	buf = buf[:0]
	for i := range rowColumns {
		buf = append(buf, rowColumns[i].value(row, lang))
	}
	buf = append(buf, textCell(row.Description))
	for _, k := range metaKeys {
		buf = append(buf, textCell(row.Meta[k]))
	}
	return buf
}

// exceptionCodes are the row's exception categories, "; "-separated.
func (row *Row) exceptionCodes() string {
	switch len(row.Exceptions) {
	case 0:
		return ""
	case 1:
		return string(row.Exceptions[0].Category)
	}
	parts := make([]string, len(row.Exceptions))
	for i, e := range row.Exceptions {
		parts[i] = string(e.Category)
	}
	return strings.Join(parts, "; ")
}

// exceptionTexts are the row's exceptions in words, " | "-separated.
func (row *Row) exceptionTexts() string {
	parts := make([]string, len(row.Exceptions))
	for i := range row.Exceptions {
		parts[i] = row.Exceptions[i].text()
	}
	return strings.Join(parts, " | ")
}

// summaryColumns head the summary lines.
var summaryColumns = []string{"section", "item", "currency", "count", "amount", "detail"}

// SummaryColumns head the summary lines (the summary CSV, the Summary
// sheet in XLSX), in English.
func SummaryColumns() []string { return append([]string(nil), summaryColumns...) }

func summaryHeader(lang string) []string {
	h := make([]string, len(summaryColumns))
	for i, c := range summaryColumns {
		h[i] = summaryWord(lang, c)
	}
	return h
}

// summaryLines lays the summary out as lines of summaryColumns, in the
// report's language; zone names the time zone the file's times are in.
func (rep *Report) summaryLines(zone string) [][]cell {
	lang := rep.Lang
	var out [][]cell
	sw := func(s string) cell { return textCell(summaryWord(lang, s)) }
	kv := func(k string, v cell) { out = append(out, []cell{sw("batch"), sw(k), {}, {}, {}, v}) }
	b := rep.Batch
	kv("id", textCell(b.ID))
	kv("name", textCell(b.Name))
	kv("file_name", textCell(b.FileName))
	kv("file_sha256", textCell(b.FileSHA256))
	kv("status", textCell(word(lang, b.Status)))
	kv("reason", textCell(b.Reason))
	kv("created_at", timeCell(b.CreatedAt))
	kv("released_at", timeCell(b.ReleasedAt))
	kv("finished_at", timeCell(b.FinishedAt))
	kv("generated_from_ledger_state_at", timeCell(rep.AsOf))
	kv("time_zone", textCell(zone))
	kv("language", textCell(reason.Lang(lang)))
	s := rep.Summary
	out = append(out, []cell{sw("rows"), sw("all"), {}, intCell(s.Rows), {}, {}})
	amounts := func(section, item string, rows int, as []Amount, detail string) {
		counted := len(as) > 0
		for _, a := range as {
			counted = counted && a.Rows > 0
		}
		if !counted {
			out = append(out, []cell{sw(section), textCell(item), {}, intCell(rows), {}, textCell(detail)})
		}
		for _, a := range as {
			n := cell{}
			if counted {
				n = intCell(a.Rows)
			}
			out = append(out, []cell{sw(section), textCell(item), textCell(a.Currency), n, moneyCell(a.Amount, a.Currency), textCell(detail)})
		}
	}
	for _, st := range s.ByState {
		amounts("state", word(lang, st.State), st.Rows, st.Amounts, "")
	}
	for _, rc := range s.ByReconciliation {
		out = append(out, []cell{sw("reconciliation"), textCell(word(lang, string(rc.Status))), {}, intCell(rc.Rows), {}, {}})
	}
	for _, t := range s.Totals {
		amounts("total", summaryWord(lang, t.What), t.Rows, t.Amounts, t.Note)
	}
	for _, c := range s.ExceptionCounts {
		out = append(out, []cell{sw("exceptions"), textCell(string(c.Category)), {}, intCell(c.Count), {}, textCell(c.Label)})
	}
	for _, e := range s.Exceptions {
		item := summaryWord(lang, "batch")
		if e.Row > 0 {
			item = reconcile.RowLabel(e.Row, e.Reference)
		}
		out = append(out, []cell{sw("exception"), textCell(item), {}, {}, {}, textCell(string(e.Category) + ": " + e.text())})
	}
	return out
}
