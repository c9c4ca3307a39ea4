package reason

// Next steps several codes share.
var (
	uploadAgain = Words{
		EN: "Not paid. Upload the row again in a new file.",
		RU: "Не выплачено. Загрузите строку снова новым файлом.",
	}
	laterAgain = Words{
		EN: "Not paid (a fault on the bank's side, retried already). Upload the row again in a new file later, e.g. in an hour.",
		RU: "Не выплачено (сбой на стороне банка, повторы уже были). Загрузите строку снова новым файлом позже, например через час.",
	}
	fixDetails = Words{
		EN: "Not paid. Ask the recipient for the right details, fix the row and upload it in a new file.",
		RU: "Не выплачено. Уточните реквизиты у получателя, исправьте строку и загрузите её новым файлом.",
	}
	opsSetup = Words{
		EN: "Not paid. Ask ops to check payrun's settings for the bank (project name, signing key), then upload the row again in a new file.",
		RU: "Не выплачено. Попросите администраторов проверить настройки payrun для банка (имя проекта, ключ подписи), затем загрузите строку снова новым файлом.",
	}
	askIssuer = Words{
		EN: "Not paid. Ask the recipient to check with their bank or to give other details, then upload the row in a new file.",
		RU: "Не выплачено. Попросите получателя выяснить причину в своём банке или дать другие реквизиты, затем загрузите строку новым файлом.",
	}
	doNotPayAgain = Words{
		EN: "Do not pay again. Wait for the bank's final word (webhook, status or the day's report: import it when it comes); past the deadline ask the bank about the session.",
		RU: "Не выплачивайте повторно. Дождитесь окончательного ответа банка (вебхук, статус или отчёт за день — загрузите его, когда придёт); если срок прошёл, спросите банк о сессии.",
	}
)

// catalogue is every entry, in order: the bank's codes (its error page,
// shared/bank131-api.md §4.1, plus api_exception and too_many_requests,
// which are not the bank's but come as bank errors), payrun's own codes,
// row states, exception categories. The English reasons of the bank's
// codes are bank131.Reason's. A test holds every list of codes in payrun
// to it, both languages each.
var catalogue = []Entry{
	// The bank's codes.
	{Kind: Bank, Code: "identification_error", Reason: Words{
		EN: "The bank did not recognise our project (X-PARTNER-PROJECT); check the project name.",
		RU: "Банк не распознал наш проект (X-PARTNER-PROJECT); проверьте имя проекта.",
	}, Next: opsSetup},
	{Kind: Bank, Code: "authentication_error", Reason: Words{
		EN: "The bank rejected the request signature; check the signing key registered with the bank.",
		RU: "Банк отклонил подпись запроса; проверьте ключ подписи, зарегистрированный в банке.",
	}, Next: opsSetup},
	{Kind: Bank, Code: "authorization_error", Reason: Words{
		EN: "Our project is not allowed to perform this operation; contact the bank.",
		RU: "Нашему проекту не разрешена эта операция; обратитесь в банк.",
	}, Next: Words{
		EN: "Not paid. Ask the bank's manager to allow this kind of payout for the project, then upload the row again in a new file.",
		RU: "Не выплачено. Попросите менеджера банка разрешить проекту такие выплаты, затем загрузите строку снова новым файлом.",
	}},
	{Kind: Bank, Code: "invalid_request", Reason: Words{
		EN: "The bank rejected the request as invalid (missing or wrong payout details).",
		RU: "Банк отклонил запрос как неверный (реквизиты выплаты не указаны или неверны).",
	}, Next: Words{
		EN: "Not paid. Check the row's details (name, card or account, amount, the transfer's fields), fix them and upload the row in a new file; if they are right, give ops the row's reference.",
		RU: "Не выплачено. Проверьте реквизиты строки (ФИО, карта или счёт, сумма, поля перевода), исправьте их и загрузите строку новым файлом; если они верны, передайте администраторам номер строки.",
	}},
	{Kind: Bank, Code: "internal_error", Reason: Words{
		EN: "The bank had an internal error; the payout can be tried again later.",
		RU: "Внутренняя ошибка банка; выплату можно повторить позже.",
	}, Next: laterAgain},
	{Kind: Bank, Code: "idempotency_key_already_exists", Reason: Words{
		EN: "This payout request was already received by the bank and is in progress or done.",
		RU: "Банк уже получил этот запрос на выплату: она выполняется или выполнена.",
	}, Next: doNotPayAgain},
	{Kind: Bank, Code: "taxpayer_unknown", Reason: Words{
		EN: "The recipient's INN does not belong to a registered self-employed person.",
		RU: "ИНН получателя не принадлежит зарегистрированному самозанятому.",
	}, Next: Words{
		EN: "Not paid. Ask the recipient to check their INN and self-employed status, fix the row and upload it in a new file.",
		RU: "Не выплачено. Попросите получателя проверить ИНН и статус самозанятого, исправьте строку и загрузите её новым файлом.",
	}},
	{Kind: Bank, Code: "taxpayer_not_bound", Reason: Words{
		EN: "The self-employed recipient has not linked their tax account to Bank 131.",
		RU: "Самозанятый получатель не привязал свой налоговый аккаунт к Банку 131.",
	}, Next: Words{
		EN: "Not paid. Ask the recipient to give Bank 131 access in the «Мой налог» app, then upload the row again in a new file.",
		RU: "Не выплачено. Попросите получателя дать доступ Банку 131 в приложении «Мой налог», затем загрузите строку снова новым файлом.",
	}},
	{Kind: Bank, Code: "taxpayer_already_bound", Reason: Words{
		EN: "The self-employed recipient is already linked to Bank 131.",
		RU: "Самозанятый получатель уже привязан к Банку 131.",
	}, Next: Words{
		EN: "Nothing to fix on the recipient's side. Upload the row again in a new file; if it fails the same way, tell ops.",
		RU: "Со стороны получателя исправлять нечего. Загрузите строку снова новым файлом; если ошибка повторится, сообщите администраторам.",
	}},
	{Kind: Bank, Code: "taxpayer_income_exceeds_amount_limit", Reason: Words{
		EN: "The payout would exceed the self-employed recipient's yearly income limit.",
		RU: "Выплата превысит годовой лимит дохода самозанятого получателя.",
	}, Next: Words{
		EN: "Not paid. Agree with the recipient to pay a smaller amount or another way (not as self-employed income).",
		RU: "Не выплачено. Договоритесь с получателем о меньшей сумме или другом способе выплаты (не как доход самозанятого).",
	}},
	{Kind: Bank, Code: "provider_internal_error", Reason: Words{
		EN: "The card network or partner bank had an internal error; the payout can be tried again later.",
		RU: "Внутренняя ошибка платёжной системы или банка-партнёра; выплату можно повторить позже.",
	}, Next: laterAgain},
	{Kind: Bank, Code: "provider_issuer_unavailable", Reason: Words{
		EN: "The recipient's bank was unavailable; the payout can be tried again later.",
		RU: "Банк получателя был недоступен; выплату можно повторить позже.",
	}, Next: laterAgain},
	{Kind: Bank, Code: "provider_foreign_transfer_prohibited", Reason: Words{
		EN: "Payouts to this foreign card are not allowed; use another card.",
		RU: "Выплаты на эту иностранную карту запрещены; используйте другую карту.",
	}, Next: fixDetails},
	{Kind: Bank, Code: "provider_exceeds_amount_limit", Reason: Words{
		EN: "The amount is above the limit of the recipient's bank or card network; pay a smaller amount or use other details.",
		RU: "Сумма выше лимита банка получателя или платёжной системы; выплатите меньшую сумму или на другие реквизиты.",
	}, Next: Words{
		EN: "Not paid. Split the amount into smaller payouts, or ask the recipient for other details, and upload the rows in a new file.",
		RU: "Не выплачено. Разбейте сумму на несколько выплат или попросите у получателя другие реквизиты и загрузите строки новым файлом.",
	}},
	{Kind: Bank, Code: "provider_timeout", Reason: Words{
		EN: "The recipient's bank did not answer in time; the payout can be tried again later.",
		RU: "Банк получателя не ответил вовремя; выплату можно повторить позже.",
	}, Next: laterAgain},
	{Kind: Bank, Code: "session_cancelled", Reason: Words{
		EN: "The bank cancelled the payout session; nothing was paid.",
		RU: "Банк отменил сессию выплаты; ничего не выплачено.",
	}, Next: uploadAgain},
	{Kind: Bank, Code: "operation_rejected", Reason: Words{
		EN: "The bank rejected the operation for security reasons.",
		RU: "Банк отклонил операцию по соображениям безопасности.",
	}, Next: Words{
		EN: "Not paid. Do not simply try again: ask the bank's manager why (give the row's bank session) before paying it.",
		RU: "Не выплачено. Не повторяйте сразу: сначала узнайте у менеджера банка причину (назовите сессию банка из строки).",
	}},
	{Kind: Bank, Code: "npd_service_internal_error", Reason: Words{
		EN: "The tax service for self-employed people had an error at the bank; the payout can be tried again later.",
		RU: "Сбой сервиса самозанятых (НПД) на стороне банка; выплату можно повторить позже.",
	}, Next: laterAgain},
	{Kind: Bank, Code: "wallet_internal_error", Reason: Words{
		EN: "The bank had an error with our balance; the payout can be tried again later.",
		RU: "Ошибка банка при работе с нашим балансом; выплату можно повторить позже.",
	}, Next: laterAgain},
	{Kind: Bank, Code: "routing_internal_error", Reason: Words{
		EN: "The bank could not determine how to route the payout; it can be tried again later.",
		RU: "Банк не смог определить маршрут выплаты; её можно повторить позже.",
	}, Next: laterAgain},
	{Kind: Bank, Code: "bank_card_expired", Reason: Words{
		EN: "The recipient's card has expired.",
		RU: "Срок действия карты получателя истёк.",
	}, Next: Words{
		EN: "Not paid. Ask the recipient for their new card, fix the row and upload it in a new file.",
		RU: "Не выплачено. Попросите у получателя новую карту, исправьте строку и загрузите её новым файлом.",
	}},
	{Kind: Bank, Code: "declined_by_issuer_bank", Reason: Words{
		EN: "The recipient's bank declined the payout.",
		RU: "Банк получателя отклонил выплату.",
	}, Next: askIssuer},
	{Kind: Bank, Code: "not_permitted_by_issuer_bank", Reason: Words{
		EN: "The recipient's bank does not permit this payout to the card.",
		RU: "Банк получателя не разрешает такую выплату на карту.",
	}, Next: askIssuer},
	{Kind: Bank, Code: "insufficient_wallet_balance", Reason: Words{
		EN: "Our balance at the bank does not cover the payout and its fee; top up the wallet, the payout waits.",
		RU: "Нашего баланса в банке не хватает на выплату и комиссию; пополните счёт, выплата ждёт.",
	}, Next: Words{
		EN: "Top up the project's balance at the bank. A row still waiting is sent by itself; a failed row: upload it again in a new file.",
		RU: "Пополните баланс проекта в банке. Ожидающая строка уйдёт сама; не прошедшую строку загрузите снова новым файлом.",
	}},
	{Kind: Bank, Code: "refund_amount_too_large", Reason: Words{
		EN: "The refund is larger than the payment it returns.",
		RU: "Сумма возврата больше платежа, который он возвращает.",
	}, Next: Words{
		EN: "payrun makes no refunds: give the bank's manager the row's bank session and ask what happened.",
		RU: "payrun не делает возвратов: назовите менеджеру банка сессию из строки и узнайте, что произошло.",
	}},
	{Kind: Bank, Code: "insufficient_funds", Reason: Words{
		EN: "The sender's card does not have enough money.",
		RU: "На карте отправителя недостаточно денег.",
	}, Next: Words{
		EN: "Not paid. Ask the sender to top up the card or use another one, then upload the row again in a new file.",
		RU: "Не выплачено. Попросите отправителя пополнить карту или взять другую, затем загрузите строку снова новым файлом.",
	}},
	{Kind: Bank, Code: "session_wrong_state", Reason: Words{
		EN: "The bank could not do this in the payout's current state; its status tells what happened.",
		RU: "Банк не смог выполнить действие в текущем состоянии выплаты; что произошло, покажет её статус.",
	}, Next: doNotPayAgain},
	{Kind: Bank, Code: "capture_timeout", Reason: Words{
		EN: "The bank cancelled the operation because it was not confirmed in time.",
		RU: "Банк отменил операцию: её не подтвердили вовремя.",
	}, Next: uploadAgain},
	{Kind: Bank, Code: "session_cancelled_by_partner", Reason: Words{
		EN: "We cancelled the payout session; nothing was paid.",
		RU: "Мы отменили сессию выплаты; ничего не выплачено.",
	}, Next: Words{
		EN: "Not paid (cancelled on our side). If it should be paid, upload the row again in a new file.",
		RU: "Не выплачено (отменено с нашей стороны). Если выплата нужна, загрузите строку снова новым файлом.",
	}},
	{Kind: Bank, Code: "card_number_does_not_exist", Reason: Words{
		EN: "The card number does not exist; check the card number.",
		RU: "Такого номера карты не существует; проверьте номер карты.",
	}, Next: Words{
		EN: "Not paid. Ask the recipient for the right card number, fix the row and upload it in a new file.",
		RU: "Не выплачено. Уточните у получателя номер карты, исправьте строку и загрузите её новым файлом.",
	}},
	{Kind: Bank, Code: "confirm_timeout", Reason: Words{
		EN: "The bank cancelled the payout because it was not confirmed in time.",
		RU: "Банк отменил выплату: её не подтвердили вовремя.",
	}, Next: Words{
		EN: "Not paid. Upload the row again in a new file; if this happens often, tell ops (confirmations come too late).",
		RU: "Не выплачено. Загрузите строку снова новым файлом; если это повторяется, сообщите администраторам (подтверждения опаздывают).",
	}},
	{Kind: Bank, Code: "3DS_error", Reason: Words{
		EN: "The sender did not pass 3-D Secure card verification.",
		RU: "Отправитель не прошёл проверку карты 3-D Secure.",
	}, Next: Words{
		EN: "Not paid. Upload the row again in a new file and ask the sender to open the new 3-D Secure link before it expires.",
		RU: "Не выплачено. Загрузите строку снова новым файлом и попросите отправителя открыть новую ссылку 3-D Secure, пока она действует.",
	}},
	{Kind: Bank, Code: "account_not_found", Reason: Words{
		EN: "The recipient's account was not found; check the account number.",
		RU: "Счёт получателя не найден; проверьте номер счёта.",
	}, Next: fixDetails},
	{Kind: Bank, Code: "activity_count_exceeded", Reason: Words{
		EN: "The card has reached its limit of operations; try later or use another card.",
		RU: "По карте исчерпан лимит операций; повторите позже или используйте другую карту.",
	}, Next: Words{
		EN: "Not paid. Upload the row again in a new file tomorrow, or ask the recipient for another card.",
		RU: "Не выплачено. Загрузите строку снова новым файлом завтра или попросите у получателя другую карту.",
	}},
	{Kind: Bank, Code: "amount_less_allowed_provider", Reason: Words{
		EN: "The amount is below the minimum the recipient's bank accepts.",
		RU: "Сумма меньше минимальной, которую принимает банк получателя.",
	}, Next: Words{
		EN: "Not paid. Pay it together with the recipient's next payout, or to other details.",
		RU: "Не выплачено. Выплатите её вместе со следующей выплатой получателю или на другие реквизиты.",
	}},
	{Kind: Bank, Code: "binding_is_deactivated", Reason: Words{
		EN: "The saved card has been deactivated for payouts.",
		RU: "Сохранённая карта отключена для выплат.",
	}, Next: Words{
		EN: "Not paid. Ask the recipient to save their card again (a new token), fix the row and upload it in a new file.",
		RU: "Не выплачено. Попросите получателя заново сохранить карту (новый токен), исправьте строку и загрузите её новым файлом.",
	}},
	{Kind: Bank, Code: "too_many_requests", Reason: Words{
		EN: "The bank throttled our requests; the payout will be tried again later.",
		RU: "Банк ограничил частоту наших запросов; выплата будет повторена позже.",
	}, Next: Words{
		EN: "Nothing to do: payrun sends it again. If this happens often, ask ops to lower the processor's --rate.",
		RU: "Ничего делать не нужно: payrun отправит её снова. Если это часто, попросите администраторов уменьшить --rate процессора.",
	}},
	{Kind: Bank, Code: "api_exception", Reason: Words{
		EN: "The bank's answer could not be read.",
		RU: "Ответ банка не удалось прочитать.",
	}, Next: Words{
		EN: "Do not pay again before it is checked: ask ops to look up the session's status at the bank (ledger status, the row's bank session).",
		RU: "Не выплачивайте повторно, пока не проверено: попросите администраторов узнать статус сессии в банке (ledger status, сессия банка из строки).",
	}},

	// payrun's own codes.
	{Kind: Payrun, Code: "gate_mismatch", Reason: Words{
		EN: "payrun cancelled the payout before confirming it: what the bank was about to pay (amount, rate or commission) did not match the row or its quote.",
		RU: "payrun отменил выплату до подтверждения: то, что банк собирался выплатить (сумма, курс или комиссия), не совпало со строкой или её котировкой.",
	}, Next: Words{
		EN: "Not paid. See the detail for what differed; if the rate moved, upload the row again in a new file for a new quote.",
		RU: "Не выплачено. Что именно не совпало, сказано в подробностях; если изменился курс, загрузите строку снова новым файлом — будет новая котировка.",
	}},
	{Kind: Payrun, Code: "not_in_bank_report", Reason: Words{
		EN: "The payout's request never reached the bank: no answer, no session, and the bank's complete reports of the day it was sent and the next do not list it (the bank's rule: not paid).",
		RU: "Запрос на выплату не дошёл до банка: ответа и сессии нет, а полные отчёты банка за день отправки и следующий день её не содержат (правило банка: не выплачено).",
	}, Next: uploadAgain},
	{Kind: Payrun, Code: "batch_cancelled", Reason: Words{
		EN: "The batch was cancelled before this payout was confirmed.",
		RU: "Пакет отменили до подтверждения этой выплаты.",
	}, Next: Words{
		EN: "Not paid. If it should be paid after all, upload the row in a new file.",
		RU: "Не выплачено. Если выплата всё же нужна, загрузите строку новым файлом.",
	}},
	{Kind: Payrun, Code: "invalid_row", Reason: Words{
		EN: "payrun could not send the row to the bank: its data do not suit the payout method.",
		RU: "payrun не смог отправить строку в банк: её данные не подходят для способа выплаты.",
	}, Next: Words{
		EN: "Not paid. See the detail, fix the row in the file and upload it in a new file.",
		RU: "Не выплачено. Прочитайте подробности, исправьте строку в файле и загрузите её новым файлом.",
	}},
	{Kind: Payrun, Code: "no_card", Reason: Words{
		EN: "The recipient's card never came: the recipient link expired unused.",
		RU: "Карта получателя не пришла: ссылка истекла неиспользованной.",
	}, Next: Words{
		EN: "Not paid. Resubmit the row and send the recipient a new link.",
		RU: "Не выплачено. Отправьте строку заново и пришлите получателю новую ссылку.",
	}},
	{Kind: Payrun, Code: "row_cancelled", Reason: Words{
		EN: "A person cancelled this row before it was confirmed.",
		RU: "Строку отменили до подтверждения выплаты.",
	}, Next: Words{
		EN: "Not paid. The detail says who and why; if it should be paid after all, upload the row in a new file.",
		RU: "Не выплачено. Кто и почему отменил, сказано в подробностях; если выплата всё же нужна, загрузите строку новым файлом.",
	}},
	{Kind: Payrun, Code: "held_dropped", Reason: Words{
		EN: "The duplicate guard held this row as a repeat, and a person dropped it.",
		RU: "Проверка повторов задержала строку как повтор, и её исключили из выплаты.",
	}, Next: Words{
		EN: "Not paid, as decided. If it was not a repeat after all, upload the row in a new file.",
		RU: "Не выплачено по решению. Если это всё же не повтор, загрузите строку новым файлом.",
	}},
	{Kind: Payrun, Code: "request_refused", Reason: Words{
		EN: "The bank refused the request for this payout without an error code.",
		RU: "Банк отклонил запрос на эту выплату, не указав код ошибки.",
	}, Next: Words{
		EN: "Not paid. The detail has the bank's answer; ask the bank's manager what it means before paying the row again.",
		RU: "Не выплачено. Ответ банка приведён в подробностях; узнайте у менеджера банка, что он значит, прежде чем выплачивать строку снова.",
	}},

	// Row states that need a word when the row has no error code.
	{Kind: State, Code: "in_doubt", Reason: Words{
		EN: "No final word from the bank yet: the request may or may not have reached it.",
		RU: "Окончательного ответа банка ещё нет: запрос мог дойти до банка, а мог и не дойти.",
	}, Next: doNotPayAgain},
	{Kind: State, Code: "action_required", Reason: Words{
		EN: "Waiting for the sender to pass 3-D Secure.",
		RU: "Ждём, пока отправитель пройдёт проверку 3-D Secure.",
	}, Next: Words{
		EN: "Send the sender the 3-D Secure link before it expires; the transfer is paid once they pass it.",
		RU: "Перешлите отправителю ссылку 3-D Secure, пока она действует; перевод пройдёт, когда он подтвердит оплату.",
	}},
	{Kind: State, Code: "returned", Reason: Words{
		EN: "The recipient's bank returned the payout.",
		RU: "Банк получателя вернул выплату.",
	}, Next: Words{
		EN: "The money is back on the balance. Ask the recipient for the right details and pay again in a new file.",
		RU: "Деньги вернулись на баланс. Уточните у получателя реквизиты и выплатите снова новым файлом.",
	}},
	{Kind: State, Code: "cancelled", Reason: Words{
		EN: "The payout was cancelled; nothing was paid.",
		RU: "Выплата отменена; ничего не выплачено.",
	}, Next: Words{
		EN: "Nothing to do, unless it should be paid: then upload the row in a new file.",
		RU: "Ничего делать не нужно; если выплата всё же нужна, загрузите строку новым файлом.",
	}},
	{Kind: State, Code: "failed", Reason: Words{
		EN: "The payout failed.",
		RU: "Выплата не прошла.",
	}, Next: Words{
		EN: "Not paid. See the detail, fix the row and upload it in a new file.",
		RU: "Не выплачено. Прочитайте подробности, исправьте строку и загрузите её новым файлом.",
	}},

	// Exception categories: the reason is the category's label
	// (reconcile.Category.Label in English).
	{Kind: Exception, Code: "paid_not_in_records", Reason: Words{
		EN: "paid but not in our records",
		RU: "выплачено, но нет в наших записях",
	}, Next: Words{
		EN: "Find out whom the bank paid (operation and session in the detail) and tell ops: payrun did not send it.",
		RU: "Выясните, кому банк выплатил (операция и сессия в подробностях), и сообщите администраторам: payrun этого не отправлял.",
	}},
	{Kind: Exception, Code: "paid_after_cancel", Reason: Words{
		EN: "bank says paid while we say failed",
		RU: "банк пишет «выплачено», а у нас «не выплачено»",
	}, Next: Words{
		EN: "Do not pay again: the bank paid the recipient. Confirm with the bank, then close the exception.",
		RU: "Не выплачивайте повторно: банк выплатил получателю. Подтвердите это у банка и закройте расхождение.",
	}},
	{Kind: Exception, Code: "amount_mismatch", Reason: Words{
		EN: "amount or currency mismatch",
		RU: "не совпадает сумма или валюта",
	}, Next: Words{
		EN: "Compare the amounts in the detail with the bank's statement and settle the difference with the bank's manager.",
		RU: "Сравните суммы из подробностей с выпиской банка и урегулируйте разницу с менеджером банка.",
	}},
	{Kind: Exception, Code: "two_operations", Reason: Words{
		EN: "two bank operations for one row",
		RU: "две операции банка по одной строке",
	}, Next: Words{
		EN: "The recipient may have been paid twice: check both operations with the bank and agree a return of one.",
		RU: "Получателю, возможно, выплатили дважды: проверьте обе операции у банка и договоритесь о возврате одной.",
	}},
	{Kind: Exception, Code: "missing_from_report", Reason: Words{
		EN: "success missing from the bank's report",
		RU: "успешной выплаты нет в отчёте банка",
	}, Next: Words{
		EN: "Import the rest of the day's report if it came in parts; otherwise ask the bank's manager to correct the report.",
		RU: "Загрузите остальные части отчёта за день, если он пришёл частями; иначе попросите менеджера банка исправить отчёт.",
	}},
	{Kind: Exception, Code: "returned_after_success", Reason: Words{
		EN: "returned after success",
		RU: "возвращено после успешной выплаты",
	}, Next: Words{
		EN: "The money is back on the balance. Ask the recipient for the right details and pay again in a new file.",
		RU: "Деньги вернулись на баланс. Уточните у получателя реквизиты и выплатите снова новым файлом.",
	}},
	{Kind: Exception, Code: "in_doubt", Reason: Words{
		EN: "in doubt past its deadline",
		RU: "нет ясности дольше срока",
	}, Next: Words{
		EN: "Ask the bank for the status of the row's session; do not pay again until it answers.",
		RU: "Запросите у банка статус сессии строки; не выплачивайте повторно, пока он не ответит.",
	}},
	{Kind: Exception, Code: "stalled_at_bank", Reason: Words{
		EN: "no final word from the bank past its deadline",
		RU: "нет окончательного ответа банка дольше срока",
	}, Next: Words{
		EN: "Ask the bank's manager about the row's session; do not pay again meanwhile.",
		RU: "Спросите менеджера банка о сессии строки; до ответа не выплачивайте повторно.",
	}},
	{Kind: Exception, Code: "batch_totals", Reason: Words{
		EN: "batch totals do not add up",
		RU: "итоги пакета не сходятся",
	}, Next: Words{
		EN: "Compare the rows with the file's totals and the bank's report; the rows' own exceptions usually explain the difference.",
		RU: "Сравните строки с итогами файла и отчётом банка; разницу обычно объясняют расхождения по строкам.",
	}},
	{Kind: Exception, Code: "gate_mismatch", Reason: Words{
		EN: "bank's payout did not match the row; cancelled at the gate",
		RU: "выплата банка не совпала со строкой; отменена до подтверждения",
	}, Next: Words{
		EN: "Not paid. See the detail for what differed; if the rate moved, upload the row again in a new file for a new quote.",
		RU: "Не выплачено. Что именно не совпало, сказано в подробностях; если изменился курс, загрузите строку снова новым файлом — будет новая котировка.",
	}},
	{Kind: Exception, Code: "dead_letter", Reason: Words{
		EN: "job or webhook exhausted its deliveries",
		RU: "задача или вебхук исчерпали попытки доставки",
	}, Next: Words{
		EN: "Tell ops: a job or webhook could not be processed, the row needs a look before anything else.",
		RU: "Сообщите администраторам: задачу или вебхук не удалось обработать, строку нужно проверить.",
	}},
	{Kind: Exception, Code: "unmatched_hook", Reason: Words{
		EN: "webhook for a row we do not know",
		RU: "вебхук по неизвестной нам строке",
	}, Next: Words{
		EN: "Tell ops; often another system's payout, but check the session with the bank.",
		RU: "Сообщите администраторам; часто это выплата другой системы, но проверьте сессию у банка.",
	}},
	{Kind: Exception, Code: "manifest", Reason: Words{
		EN: "batch rejected or its manifest differs",
		RU: "пакет отклонён или его манифест отличается",
	}, Next: Words{
		EN: "Nothing of the batch was paid. See the detail, fix the file and upload it again.",
		RU: "Ничего из пакета не выплачено. Прочитайте подробности, исправьте файл и загрузите его снова.",
	}},
	{Kind: Exception, Code: "held_rows", Reason: Words{
		EN: "rows held as repeats or probable duplicates; a person decides",
		RU: "строки задержаны как повторы или вероятные дубли; решает человек",
	}, Next: Words{
		EN: "Compare the row with the earlier one it repeats (the held column), then release it to be paid or drop it: in the console or with ledger release|drop --batch ID --row N --reason TEXT.",
		RU: "Сравните строку с более ранней, которую она повторяет (столбец «Остановлена»), и выпустите её к выплате или исключите: в консоли или командой ledger release|drop --batch ID --row N --reason ТЕКСТ.",
	}},
	{Kind: Exception, Code: "bank_failures", Reason: Words{
		EN: "many rows failed with the same bank code; batch on hold",
		RU: "много строк отклонено банком с одним кодом; пакет приостановлен",
	}, Next: Words{
		EN: "The rest of the batch waits. Find the cause with the bank (the detail names the code), then resume the batch (ledger resume --batch ID --reason TEXT) or cancel it; resubmit the failed rows once it is fixed.",
		RU: "Остальные строки пакета ждут. Выясните причину с банком (код указан в подробностях), затем возобновите пакет (ledger resume --batch ID --reason ТЕКСТ) или отмените его; отклонённые строки отправьте повторно, когда причина устранена.",
	}},
	{Kind: Exception, Code: "waiting_for_funds", Reason: Words{
		EN: "our wallet is short: top up the wallet; the batch waits and goes on by itself",
		RU: "на нашем счёте в банке не хватает денег на реестр; он ждёт",
	}, Next: Words{
		EN: "Top up the wallet by at least the shortfall in the detail; the batch goes on by itself at the next wallet check, and no row is paid twice.",
		RU: "Пополните счёт хотя бы на недостающую сумму (она в подробностях); реестр продолжится сам при следующей проверке счёта, ни одна строка не будет выплачена дважды.",
	}},
	{Kind: Exception, Code: "unreadable_hook", Reason: Words{
		EN: "a verified webhook we could not read; kept, the row is polled",
		RU: "подтверждённое уведомление банка не читается; оно сохранено, статус строки запрашивается",
	}, Next: Words{
		EN: "Nothing to do while the poll settles the row; if it stays open, send the kept webhook (the detail) to the bank's manager.",
		RU: "Пока опрос не завершит строку, ничего делать не нужно; если исключение не закрывается, передайте сохранённое уведомление (в подробностях) менеджеру банка.",
	}},
	{Kind: Exception, Code: "row_conflict", Reason: Words{
		EN: "row arrived again with different data",
		RU: "строка пришла повторно с другими данными",
	}, Next: Words{
		EN: "Tell ops; find out which version of the row is right before anything more is paid.",
		RU: "Сообщите администраторам; выясните, какая версия строки верна, прежде чем что-то выплачивать.",
	}},
	{Kind: Exception, Code: "late_row", Reason: Words{
		EN: "row arrived after its batch was sealed",
		RU: "строка пришла после закрытия пакета",
	}, Next: Words{
		EN: "The row is not paid with the batch; upload it in a new file if it should be paid.",
		RU: "Строка не выплачивается в этом пакете; если выплата нужна, загрузите её новым файлом.",
	}},
	{Kind: Exception, Code: "intake_invalid", Reason: Words{
		EN: "intake message unreadable",
		RU: "сообщение приёма не читается",
	}, Next: Words{
		EN: "Tell ops: the ledger could not read a row of the upload.",
		RU: "Сообщите администраторам: реестр не смог прочитать строку загрузки.",
	}},
}
