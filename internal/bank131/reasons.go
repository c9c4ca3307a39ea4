package bank131

import (
	"strings"

	"github.com/payrun/payrun/internal/cardmask"
)

// reasons explains the bank's error codes in plain English for finance
// reports. Source: the bank's error reference (shared/bank131-api.md §4.1)
// plus the two codes that are not the bank's (api_exception, too_many_requests).
var reasons = map[string]string{
	CodeIdentification:        "The bank did not recognise our project (X-PARTNER-PROJECT); check the project name.",
	CodeAuthentication:        "The bank rejected the request signature; check the signing key registered with the bank.",
	CodeAuthorization:         "Our project is not allowed to perform this operation; contact the bank.",
	CodeInvalidRequest:        "The bank rejected the request as invalid (missing or wrong payout details).",
	CodeInternal:              "The bank had an internal error; the payout can be tried again later.",
	CodeIdempotencyConflict:   "This payout request was already received by the bank and is in progress or done.",
	CodeTaxpayerUnknown:       "The recipient's INN does not belong to a registered self-employed person.",
	CodeTaxpayerNotBound:      "The self-employed recipient has not linked their tax account to Bank 131.",
	CodeTaxpayerAlreadyBound:  "The self-employed recipient is already linked to Bank 131.",
	CodeTaxpayerIncomeLimit:   "The payout would exceed the self-employed recipient's yearly income limit.",
	CodeProviderInternal:      "The card network or partner bank had an internal error; the payout can be tried again later.",
	CodeIssuerUnavailable:     "The recipient's bank was unavailable; the payout can be tried again later.",
	CodeForeignTransferDenied: "Payouts to this foreign card are not allowed; use another card.",
	CodeProviderAmountLimit:   "The amount is above the limit of the recipient's bank or card network; pay a smaller amount or use other details.",
	CodeProviderTimeout:       "The recipient's bank did not answer in time; the payout can be tried again later.",
	CodeSessionCancelled:      "The bank cancelled the payout session; nothing was paid.",
	CodeOperationRejected:     "The bank rejected the operation for security reasons.",
	CodeNPDInternal:           "The tax service for self-employed people had an error at the bank; the payout can be tried again later.",
	CodeWalletInternal:        "The bank had an error with our balance; the payout can be tried again later.",
	CodeRoutingInternal:       "The bank could not determine how to route the payout; it can be tried again later.",
	CodeBankCardExpired:       "The recipient's card has expired.",
	CodeDeclinedByIssuer:      "The recipient's bank declined the payout.",
	CodeNotPermittedByIssuer:  "The recipient's bank does not permit this payout to the card.",
	CodeWalletShort:           "Our balance at the bank does not cover the payout and its fee; top up the wallet, the payout waits.",
	CodeRefundTooLarge:        "The refund is larger than the payment it returns.",
	CodeInsufficientFunds:     "The sender's card does not have enough money.",
	CodeSessionWrongState:     "The bank could not do this in the payout's current state; its status tells what happened.",
	CodeCaptureTimeout:        "The bank cancelled the operation because it was not confirmed in time.",
	CodeCancelledByPartner:    "We cancelled the payout session; nothing was paid.",
	CodeCardNumberNotExist:    "The card number does not exist; check the card number.",
	CodeConfirmTimeout:        "The bank cancelled the payout because it was not confirmed in time.",
	CodeThreeDS:               "The sender did not pass 3-D Secure card verification.",
	CodeAccountNotFound:       "The recipient's account was not found; check the account number.",
	CodeActivityCountExceeded: "The card has reached its limit of operations; try later or use another card.",
	CodeAmountBelowProvider:   "The amount is below the minimum the recipient's bank accepts.",
	CodeBindingDeactivated:    "The saved card has been deactivated for payouts.",
	CodeTooManyRequests:       "The bank throttled our requests; the payout will be tried again later.",
	CodeAPIException:          "The bank's answer could not be read.",
}

// Reason explains a bank error code in plain English for finance reports.
// Unknown codes get a generic sentence naming the code.
func Reason(code string) string {
	if r, ok := reasons[code]; ok {
		return r
	}
	if strings.TrimSpace(code) == "" {
		return "The bank reported an error without a code."
	}
	return "The bank reported error " + cardmask.Redact(code) + "."
}

// KnownCode reports whether Reason has a specific explanation for code.
func KnownCode(code string) bool {
	_, ok := reasons[code]
	return ok
}
