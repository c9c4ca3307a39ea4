// Package reason is the one catalogue of what payrun tells people about a
// payout that did not simply succeed: for every error code (the bank's and
// payrun's own), for the row states that need a word (in doubt, waiting for
// 3-D Secure, returned, cancelled, failed) and for every exception
// category, a plain reason and what to do next, in English and in Russian.
// The reports (internal/report), the processor (through bank131.Reason)
// and the web console read it; it imports nothing of payrun's but the card
// masker, so any package may.
package reason

import (
	"strings"

	"github.com/payrun/payrun/internal/cardmask"
)

// Languages of the catalogue: a language tag that is "ru" (any case, or
// "ru-RU") is Russian, anything else English.
const (
	English = "en"
	Russian = "ru"
)

// Lang normalises a language setting: "ru", "RU", "ru-RU", "ru_RU.UTF-8"
// are Russian; everything else (also "") is English.
func Lang(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == Russian || strings.HasPrefix(s, "ru-") || strings.HasPrefix(s, "ru_") {
		return Russian
	}
	return English
}

// Kind says what an entry explains.
type Kind string

// Kinds of entries.
const (
	Bank      Kind = "bank"      // an error code of the bank (bank131.Code*)
	Payrun    Kind = "payrun"    // an error code payrun itself sets (gate_mismatch, not_in_bank_report…)
	State     Kind = "state"     // a row state without an error code (in_doubt, action_required…)
	Exception Kind = "exception" // an exception category (reconcile.Category)
)

// Words is one text in both languages.
type Words struct {
	EN string `json:"en"`
	RU string `json:"ru"`
}

// In is the text in lang (Lang's reading of it).
func (w Words) In(lang string) string {
	if Lang(lang) == Russian {
		return w.RU
	}
	return w.EN
}

// Entry explains one code: why (Reason; for an exception, its label) and
// what to do next (Next).
type Entry struct {
	Kind   Kind   `json:"kind"`
	Code   string `json:"code"`
	Reason Words  `json:"reason"`
	Next   Words  `json:"next"`
	// Known is false for a code the catalogue does not list (an entry
	// made up by Error for it).
	Known bool `json:"known"`
}

type key struct {
	kind Kind
	code string
}

var byKey = func() map[key]Entry {
	m := make(map[key]Entry, len(catalogue))
	for _, e := range catalogue {
		e.Known = true
		m[key{e.Kind, e.Code}] = e
	}
	return m
}()

// Entries lists every entry of the catalogue, in its order (bank codes,
// payrun's codes, states, exception categories).
func Entries() []Entry {
	out := make([]Entry, len(catalogue))
	for i, e := range catalogue {
		e.Known = true
		out[i] = e
	}
	return out
}

// Lookup finds the entry of a kind and code.
func Lookup(kind Kind, code string) (Entry, bool) {
	e, ok := byKey[key{kind, code}]
	return e, ok
}

// Error explains an error code as a row carries it: the bank's codes and
// payrun's own. A code the catalogue does not know gets an entry naming
// it (redacted: a code is text from outside), with Known false.
func Error(code string) Entry {
	if e, ok := byKey[key{Bank, code}]; ok {
		return e
	}
	if e, ok := byKey[key{Payrun, code}]; ok {
		return e
	}
	if strings.TrimSpace(code) == "" {
		return Entry{Kind: Bank, Reason: Words{
			EN: "The bank reported an error without a code.",
			RU: "Банк сообщил об ошибке без кода.",
		}, Next: unknownNext}
	}
	c := cardmask.Redact(code)
	return Entry{Kind: Bank, Code: code, Reason: Words{
		EN: "The bank reported error " + c + ".",
		RU: "Банк сообщил об ошибке " + c + ".",
	}, Next: unknownNext}
}

var unknownNext = Words{
	EN: "Not settled by payrun's catalogue: ask the bank's manager what the code means before paying the row again.",
	RU: "Этого кода нет в справочнике payrun: узнайте у менеджера банка, что он значит, прежде чем выплачивать строку снова.",
}
