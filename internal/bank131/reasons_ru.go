package bank131

import (
	"strings"

	"github.com/payrun/payrun/internal/cardmask"
)

// reasonsRU are the reasons in Russian, for the console (TestReasonsRU
// keeps a Russian sentence for every English one).
var reasonsRU = map[string]string{
	CodeIdentification:        "Банк не узнал наш проект (X-PARTNER-PROJECT); проверьте имя проекта.",
	CodeAuthentication:        "Банк отклонил подпись запроса; проверьте ключ подписи, зарегистрированный в банке.",
	CodeAuthorization:         "Нашему проекту эта операция не разрешена; обратитесь в банк.",
	CodeInvalidRequest:        "Банк отклонил запрос как неверный (реквизиты выплаты неполные или ошибочные).",
	CodeInternal:              "Внутренняя ошибка банка; выплату можно повторить позже.",
	CodeIdempotencyConflict:   "Этот запрос на выплату банк уже получил; он выполняется или выполнен.",
	CodeTaxpayerUnknown:       "ИНН получателя не принадлежит зарегистрированному самозанятому.",
	CodeTaxpayerNotBound:      "Самозанятый получатель не привязал свой налоговый кабинет к Банку 131.",
	CodeTaxpayerAlreadyBound:  "Самозанятый получатель уже привязан к Банку 131.",
	CodeTaxpayerIncomeLimit:   "Выплата превысила бы годовой лимит дохода самозанятого получателя.",
	CodeProviderInternal:      "Внутренняя ошибка платёжной системы или банка-партнёра; выплату можно повторить позже.",
	CodeIssuerUnavailable:     "Банк получателя был недоступен; выплату можно повторить позже.",
	CodeForeignTransferDenied: "Выплаты на эту иностранную карту запрещены; используйте другую карту.",
	CodeProviderAmountLimit:   "Сумма выше лимита банка получателя или платёжной системы; выплатите меньшую сумму или на другие реквизиты.",
	CodeProviderTimeout:       "Банк получателя не ответил вовремя; выплату можно повторить позже.",
	CodeSessionCancelled:      "Банк отменил сессию выплаты; ничего не выплачено.",
	CodeOperationRejected:     "Банк отклонил операцию по соображениям безопасности.",
	CodeNPDInternal:           "Ошибка налоговой службы для самозанятых на стороне банка; выплату можно повторить позже.",
	CodeWalletInternal:        "Ошибка банка с нашим балансом; выплату можно повторить позже.",
	CodeRoutingInternal:       "Банк не смог определить маршрут выплаты; её можно повторить позже.",
	CodeBankCardExpired:       "Срок действия карты получателя истёк.",
	CodeDeclinedByIssuer:      "Банк получателя отклонил выплату.",
	CodeNotPermittedByIssuer:  "Банк получателя не разрешает эту выплату на карту.",
	CodeWalletShort:           "Нашего баланса в банке не хватает на выплату и комиссию; пополните счёт, выплата ждёт.",
	CodeRefundTooLarge:        "Сумма возврата больше платежа, который она возвращает.",
	CodeInsufficientFunds:     "На карте отправителя недостаточно денег.",
	CodeSessionWrongState:     "Банк не смог выполнить это в текущем состоянии выплаты; её статус покажет, что произошло.",
	CodeCaptureTimeout:        "Банк отменил операцию, потому что её не подтвердили вовремя.",
	CodeCancelledByPartner:    "Мы отменили сессию выплаты; ничего не выплачено.",
	CodeCardNumberNotExist:    "Такого номера карты не существует; проверьте номер карты.",
	CodeConfirmTimeout:        "Банк отменил выплату, потому что её не подтвердили вовремя.",
	CodeThreeDS:               "Отправитель не прошёл проверку карты 3-D Secure.",
	CodeAccountNotFound:       "Счёт получателя не найден; проверьте номер счёта.",
	CodeActivityCountExceeded: "По карте исчерпан лимит операций; повторите позже или используйте другую карту.",
	CodeAmountBelowProvider:   "Сумма ниже минимальной, которую принимает банк получателя.",
	CodeBindingDeactivated:    "Сохранённая карта отключена для выплат.",
	CodeTooManyRequests:       "Банк ограничил частоту наших запросов; выплату повторим позже.",
	CodeAPIException:          "Ответ банка не удалось прочитать.",
}

// ReasonRU is Reason in Russian.
func ReasonRU(code string) string {
	if r, ok := reasonsRU[code]; ok {
		return r
	}
	if strings.TrimSpace(code) == "" {
		return "Банк сообщил об ошибке без кода."
	}
	return "Банк сообщил об ошибке " + cardmask.Redact(code) + "."
}
