package bank131

import (
	"strings"

	"github.com/payrun/payrun/internal/cardmask"
)

// reasons explains the bank's error codes in plain English for finance
// reports. Source: the bank's error reference (partial, see
// shared/bank131-api.md §4.1) plus the codes this package itself uses.
var reasons = map[string]string{
	CodeIdentification:                     "The bank did not recognise our project (X-PARTNER-PROJECT); check the project name.",
	CodeAuthentication:                     "The bank rejected the request signature; check the signing key registered with the bank.",
	CodeAuthorization:                      "Our project is not allowed to perform this operation; contact the bank.",
	CodeInvalidRequest:                     "The bank rejected the request as invalid (missing or wrong payout details).",
	CodeInternal:                           "The bank had an internal error; the payout can be tried again later.",
	CodeIdempotencyConflict:                "This payout request was already received by the bank and is in progress or done.",
	"taxpayer_unknown":                     "The recipient's INN does not belong to a registered self-employed person.",
	"taxpayer_not_bound":                   "The self-employed recipient has not linked their tax account to Bank 131.",
	"taxpayer_already_bound":               "The self-employed recipient is already linked to Bank 131.",
	"taxpayer_income_exceeds_amount_limit": "The payout would exceed the self-employed recipient's yearly income limit.",
	CodeProviderInternal:                   "The card network or partner bank had an internal error; the payout can be tried again later.",
	CodeIssuerUnavailable:                  "The recipient's bank was unavailable; the payout can be tried again later.",
	CodeForeignTransferDenied:              "Payouts to this foreign card are not allowed; use another card.",
	CodeProviderAmountLimit:                "The amount is above the limit of the recipient's bank or card network; pay a smaller amount or use other details.",
	CodeProviderTimeout:                    "The recipient's bank did not answer in time; the payout can be tried again later.",
	CodeThreeDS:                            "The sender did not pass 3-D Secure card verification.",
	"account_not_found":                    "The recipient's account was not found; check the account number.",
	"activity_count_exceeded":              "The card has reached its limit of operations; try later or use another card.",
	"amount_less_allowed_provider":         "The amount is below the minimum the recipient's bank accepts.",
	CodeBankCardExpired:                    "The recipient's card has expired.",
	"binding_is_deactivated":               "The saved card has been deactivated for payouts.",
	"capture_timeout":                      "The bank cancelled the operation because it was not confirmed in time.",
	CodeCardNumberNotExist:                 "The card number does not exist; check the card number.",
	CodeConfirmTimeout:                     "The bank cancelled the payout because it was not confirmed in time.",
	CodeTooManyRequests:                    "The bank throttled our requests; the payout will be tried again later.",
	"api_exception":                        "The bank's answer could not be read.",
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
