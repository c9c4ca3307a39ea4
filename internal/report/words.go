package report

import (
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reason"
	"github.com/payrun/payrun/internal/reconcile"
)

// The report's own words in Russian: the values CSV and XLSX translate
// (states, methods, reconciliation statuses, batch statuses) and the
// summary's sections and items. English is the value itself. Reasons, what
// to do next and exception labels are internal/reason's.
var ruWords = map[string]string{
	// Row states.
	string(payout.StateReceived):         "получено",
	string(payout.StateScheduled):        "запланировано",
	string(payout.StateAwaitingApproval): "ждёт одобрения",
	string(payout.StateQueued):           "в очереди",
	string(payout.StateClaimed):          "взято в работу",
	string(payout.StateQuoted):           "котировка получена",
	string(payout.StateOpening):          "открывается",
	string(payout.StateSessionOpen):      "сессия открыта",
	string(payout.StateStarting):         "запускается",
	string(payout.StatePayoutStarted):    "в банке",
	string(payout.StateConfirming):       "подтверждается",
	string(payout.StateConfirmed):        "подтверждено",
	string(payout.StateActionRequired):   "ждёт 3-D Secure",
	string(payout.StateInDoubt):          "нет ясности",
	string(payout.StateSucceeded):        "выплачено",
	string(payout.StateFailed):           "не выплачено",
	string(payout.StateCancelled):        "отменено",
	string(payout.StateReturned):         "возвращено",
	// Batch statuses (those that are not also row states).
	string(payout.BatchReceiving): "принимается",
	string(payout.BatchRejected):  "отклонён",
	string(payout.BatchReleased):  "отправлен в работу",
	string(payout.BatchDone):      "завершён",
	// Methods.
	string(payout.MethodCard):          "карта",
	string(payout.MethodToken):         "токен карты",
	string(payout.MethodEncryptedCard): "зашифрованная карта",
	string(payout.MethodTransfer):      "перевод",
	// Reconciliation statuses.
	string(reconcile.StatusMatched):        "сверено",
	string(reconcile.StatusAwaitingBank):   "ждём банк",
	string(reconcile.StatusAwaitingReport): "ждём отчёт банка",
	string(reconcile.StatusException):      "расхождение",
}

// word is a value in the report's language.
func word(lang, v string) string {
	if reason.Lang(lang) == reason.Russian {
		if w, ok := ruWords[v]; ok {
			return w
		}
	}
	return v
}

// Summary sections and items, English → Russian. A batch status that is
// also a row state ("scheduled", "cancelled") has one word for both.
var ruSummary = map[string]string{
	"section": "раздел", "item": "пункт", "currency": "валюта", "count": "количество", "amount": "сумма", "detail": "подробности",
	"batch": "пакет", "rows": "строки", "state": "статус", "reconciliation": "сверка", "total": "итог",
	"exceptions": "расхождения", "exception": "расхождение",
	"id": "идентификатор", "name": "название", "file_name": "файл", "file_sha256": "SHA-256 файла", "status": "статус пакета",
	"reason": "причина", "created_at": "создан", "released_at": "отправлен в работу", "finished_at": "завершён",
	"generated_from_ledger_state_at": "по состоянию реестра на", "time_zone": "часовой пояс", "language": "язык",
	"all":       "всего",
	"requested": "запрошено", "paid": "выплачено", "returned": "возвращено", "failed": "не выплачено",
	"cancelled": "отменено", "pending": "в процессе", "fees": "комиссии банка", "commission": "комиссии переводов",
	"paid_source": "выплачено, в валюте списания", "paid_as_reported": "выплачено, как в отчёте банка",
	"bank_reported": "по отчётам банка", "manifest": "по манифесту",
}

// summaryWord is a summary section or item in the report's language.
func summaryWord(lang, v string) string {
	if reason.Lang(lang) == reason.Russian {
		if w, ok := ruSummary[v]; ok {
			return w
		}
	}
	return v
}

// totalNotes say what each total sums, in both languages.
var totalNotes = map[string]reason.Words{
	"requested": {
		EN: "Every row's amount as in the file, in the row's currency.",
		RU: "Суммы всех строк, как в файле, в валюте строки.",
	},
	"paid": {
		EN: "Rows paid (succeeded), in the row's currency; a transfer's row may be in its source or its destination currency.",
		RU: "Выплаченные строки, в валюте строки; строка перевода может быть в валюте списания или в валюте получателя.",
	},
	"returned": {
		EN: "Rows paid, then returned by the recipient's bank: the money is back on the balance.",
		RU: "Строки, выплаченные и возвращённые банком получателя: деньги вернулись на баланс.",
	},
	"failed": {
		EN: "Rows not paid (failed), in the row's currency.",
		RU: "Невыплаченные строки, в валюте строки.",
	},
	"cancelled": {
		EN: "Rows cancelled before they were paid.",
		RU: "Строки, отменённые до выплаты.",
	},
	"pending": {
		EN: "Rows not final yet (queued, at the bank, in doubt, waiting for 3-D Secure).",
		RU: "Строки, ещё не завершённые (в очереди, в банке, без ясности, ждут 3-D Secure).",
	},
	"fees": {
		EN: "The bank's fees on the rows (its daily report and webhooks), in the fee's currency, charged on top of the payouts.",
		RU: "Комиссии банка по строкам (из его отчёта за день и вебхуков), в валюте комиссии, сверх сумм выплат.",
	},
	"commission": {
		EN: "Transfers paid: the quote's commission (transfer and SMS fee), in the source currency, paid on top of the source amount.",
		RU: "Выплаченные переводы: комиссия по котировке (за перевод и SMS), в валюте списания, сверх суммы списания.",
	},
	"paid_source": {
		EN: "Rows paid or returned, in the currency they were paid from: a transfer's source side, other rows their amount; fees and commission come on top.",
		RU: "Выплаченные и возвращённые строки в валюте списания: у перевода — сумма списания, у остальных — сумма строки; комиссии сверх неё.",
	},
	"paid_as_reported": {
		EN: "Rows paid or returned, as the bank's report lists them: a transfer's destination side (what the recipient got), other rows their amount. Compare with bank_reported.",
		RU: "Выплаченные и возвращённые строки так, как их показывает отчёт банка: у перевода — сумма получателю, у остальных — сумма строки. Сравните с «по отчётам банка».",
	},
	"bank_reported": {
		EN: "What the bank's imported daily reports list as paid for the batch, each operation once (also operations that name no row of ours).",
		RU: "Что загруженные отчёты банка за день показывают выплаченным по пакету, каждую операцию один раз (и операции, не относящиеся к нашим строкам).",
	},
	"manifest": {
		EN: "What the file's manifest says: its rows and totals.",
		RU: "Что сказано в манифесте файла: число строк и итоги.",
	},
}

// exceptionLabel is a category's label in the report's language.
func exceptionLabel(lang string, c reconcile.Category) string {
	if e, ok := reason.Lookup(reason.Exception, string(c)); ok {
		return e.Reason.In(lang)
	}
	return c.Label()
}
