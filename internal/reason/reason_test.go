package reason_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reason"
	"github.com/payrun/payrun/internal/reconcile"
)

func hasScript(s string, script *unicode.RangeTable) bool {
	for _, r := range s {
		if unicode.Is(script, r) {
			return true
		}
	}
	return false
}

// TestEveryEntryHasBothLanguages: every entry says why and what to do
// next, in English (Latin letters) and in Russian (Cyrillic), and no code
// is listed twice.
func TestEveryEntryHasBothLanguages(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range reason.Entries() {
		k := string(e.Kind) + ":" + e.Code
		require.False(t, seen[k], "%s listed twice", k)
		seen[k] = true
		require.NotEmpty(t, e.Code, "an entry without a code")
		for what, w := range map[string]reason.Words{"reason": e.Reason, "next": e.Next} {
			require.True(t, hasScript(w.EN, unicode.Latin), "%s %s in English: %q", k, what, w.EN)
			require.True(t, hasScript(w.RU, unicode.Cyrillic), "%s %s in Russian: %q", k, what, w.RU)
			require.NotEqual(t, w.EN, w.RU, k)
			require.Equal(t, strings.TrimSpace(w.EN), w.EN, k)
			require.Equal(t, strings.TrimSpace(w.RU), w.RU, k)
		}
		if e.Kind != reason.Exception {
			require.Regexp(t, `\.$`, e.Reason.EN, "%s: a sentence", k)
			require.Regexp(t, `\.$`, e.Reason.RU, "%s: a sentence", k)
		}
		require.Regexp(t, `\.$`, e.Next.EN, "%s: a sentence", k)
		require.Regexp(t, `\.$`, e.Next.RU, "%s: a sentence", k)
		got, ok := reason.Lookup(e.Kind, e.Code)
		require.True(t, ok && got.Known, k)
		require.Equal(t, e, got)
	}
}

// bankCodes are the bank's codes bank131 names (its constants); the
// bank131 tests hold its classification to the same list.
var bankCodes = []string{
	bank131.CodeIdentification, bank131.CodeAuthentication, bank131.CodeAuthorization, bank131.CodeInvalidRequest,
	bank131.CodeInternal, bank131.CodeIdempotencyConflict, bank131.CodeTaxpayerUnknown, bank131.CodeTaxpayerNotBound,
	bank131.CodeTaxpayerAlreadyBound, bank131.CodeTaxpayerIncomeLimit, bank131.CodeProviderInternal,
	bank131.CodeIssuerUnavailable, bank131.CodeForeignTransferDenied, bank131.CodeProviderAmountLimit,
	bank131.CodeProviderTimeout, bank131.CodeSessionCancelled, bank131.CodeOperationRejected, bank131.CodeNPDInternal,
	bank131.CodeWalletInternal, bank131.CodeRoutingInternal, bank131.CodeBankCardExpired, bank131.CodeDeclinedByIssuer,
	bank131.CodeNotPermittedByIssuer, bank131.CodeWalletShort, bank131.CodeRefundTooLarge, bank131.CodeInsufficientFunds,
	bank131.CodeSessionWrongState, bank131.CodeCaptureTimeout, bank131.CodeCancelledByPartner,
	bank131.CodeCardNumberNotExist, bank131.CodeConfirmTimeout, bank131.CodeThreeDS, bank131.CodeAccountNotFound,
	bank131.CodeActivityCountExceeded, bank131.CodeAmountBelowProvider, bank131.CodeBindingDeactivated,
	bank131.CodeAPIException, bank131.CodeTooManyRequests,
}

func TestEveryBankCode(t *testing.T) {
	n := 0
	for _, e := range reason.Entries() {
		if e.Kind == reason.Bank {
			n++
		}
	}
	require.Len(t, bankCodes, n, "the catalogue lists exactly the bank's codes")
	for _, code := range bankCodes {
		e := reason.Error(code)
		require.True(t, e.Known, code)
		require.Equal(t, reason.Bank, e.Kind, code)
		require.Equal(t, bank131.Reason(code), e.Reason.EN, "bank131.Reason is the catalogue's English")
	}
}

// payrunCode finds the error codes payrun's own packages set: a literal
// ErrorCode: "…" in a transition, the gate's code, and ledgerapi's Error…
// constants.
var (
	payrunCode = regexp.MustCompile(`ErrorCode:\s*"([^"]+)"|gateMove\([^)]*"([a-z_]+)"` +
		// code := "…"; what, code := "…", "…"; cancelOne(tx, r, reason, "…", source, …)
		`|\bcode\s*:?=\s*"([a-z_]+)"|, code\s*:?=\s*"[^"]*",\s*"([a-z_]+)"|cancelOne\([^;\n]*?,\s*"([a-z_]+)",\s*ledgerapi\.Source`)
	ledgerapiErr = regexp.MustCompile(`\bError[A-Z]\w*\s*=\s*"([a-z_]+)"`)
)

// TestEveryPayrunCode reads payrun's source for the error codes it sets on
// rows (so a new code cannot miss its entry) and checks each is here,
// with the ones named in the issue among them.
func TestEveryPayrunCode(t *testing.T) {
	found := map[string]bool{}
	root := filepath.Join("..")
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		if strings.Contains(path, string(filepath.Separator)+"sandbox"+string(filepath.Separator)) {
			return nil // the bank's stand-in sets the bank's codes
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		matches := payrunCode.FindAllStringSubmatch(string(data), -1)
		if filepath.Base(filepath.Dir(path)) == "ledgerapi" {
			matches = append(matches, ledgerapiErr.FindAllStringSubmatch(string(data), -1)...)
		}
		for _, m := range matches {
			for _, code := range m[1:] {
				if code != "" {
					found[code] = true
				}
			}
		}
		return nil
	})
	require.NoError(t, err)
	for _, code := range []string{string(reconcile.GateMismatch), ledgerapi.ErrorNotInBankReport, "batch_cancelled", "invalid_row",
		"row_cancelled", "held_dropped", "request_refused"} {
		require.True(t, found[code], "the source scan finds %s", code)
	}
	for code := range found {
		e := reason.Error(code)
		require.True(t, e.Known, "payrun sets error code %s: add it to the catalogue", code)
	}
	_, ok := reason.Lookup(reason.Bank, bank131.CodeConfirmTimeout)
	require.True(t, ok, "confirm_timeout is the bank's")
}

// TestEveryCategory: every exception category has an entry whose English
// is the category's label.
func TestEveryCategory(t *testing.T) {
	for _, c := range reconcile.Categories {
		e, ok := reason.Lookup(reason.Exception, string(c))
		require.True(t, ok, "category %s: add it to the catalogue", c)
		require.Equal(t, c.Label(), e.Reason.EN, "category %s", c)
	}
	n := 0
	for _, e := range reason.Entries() {
		if e.Kind == reason.Exception {
			n++
		}
	}
	require.Len(t, reconcile.Categories, n, "no entry for a category that does not exist")
}

// TestStates: the states a row without an error code is explained by are
// payout states.
func TestStates(t *testing.T) {
	for _, e := range reason.Entries() {
		if e.Kind == reason.State {
			_, ok := payout.Next[payout.State(e.Code)]
			require.True(t, ok, "state %s", e.Code)
		}
	}
	for _, st := range []payout.State{payout.StateInDoubt, payout.StateActionRequired, payout.StateReturned,
		payout.StateCancelled, payout.StateFailed} {
		_, ok := reason.Lookup(reason.State, string(st))
		require.True(t, ok, "state %s", st)
	}
}

func TestUnknownCode(t *testing.T) {
	e := reason.Error("brand_new_code")
	require.False(t, e.Known)
	require.Equal(t, "The bank reported error brand_new_code.", e.Reason.In("en"))
	require.Equal(t, "Банк сообщил об ошибке brand_new_code.", e.Reason.In("ru"))
	require.NotEmpty(t, e.Next.In("ru"))
	require.Equal(t, "The bank reported an error without a code.", reason.Error("").Reason.EN)
	// A code is text from outside: no card number gets through.
	require.NotContains(t, reason.Error("4242424242424242").Reason.RU, "4242424242424242")
}

func TestLang(t *testing.T) {
	for in, want := range map[string]string{"": "en", "en": "en", "EN": "en", "ru": "ru", "RU": "ru", "ru-RU": "ru",
		"ru_RU.UTF-8": "ru", "de": "en", "rus": "en"} {
		require.Equal(t, want, reason.Lang(in), in)
	}
	w := reason.Words{EN: "a", RU: "б"}
	require.Equal(t, "б", w.In("ru-RU"))
	require.Equal(t, "a", w.In("fr"))
}
