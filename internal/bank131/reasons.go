package bank131

import "github.com/payrun/payrun/internal/reason"

// Reason explains a bank error code in plain English for finance reports:
// the English of the code's entry in the one catalogue of reasons
// (internal/reason, which has the Russian and what to do next too).
// Unknown codes get a generic sentence naming the code.
func Reason(code string) string { return reason.Error(code).Reason.EN }

// KnownCode reports whether Reason has a specific explanation for code.
func KnownCode(code string) bool {
	_, ok := reason.Lookup(reason.Bank, code)
	return ok
}
