package bank131

import (
	"testing"
	"unicode"
)

// TestReasonsRU: every code explained in English is explained in Russian,
// and each Russian sentence is Russian (mostly Cyrillic letters).
func TestReasonsRU(t *testing.T) {
	for code := range reasons {
		ru, ok := reasonsRU[code]
		if !ok {
			t.Errorf("%s has no Russian reason", code)
			continue
		}
		var cyr, latin int
		for _, r := range ru {
			switch {
			case unicode.Is(unicode.Cyrillic, r):
				cyr++
			case unicode.Is(unicode.Latin, r):
				latin++
			}
		}
		if cyr <= latin {
			t.Errorf("%s: %q does not read as Russian", code, ru)
		}
	}
	for code := range reasonsRU {
		if _, ok := reasons[code]; !ok {
			t.Errorf("%s has a Russian reason and no English one", code)
		}
	}
	if got := ReasonRU("weird_4111111111111111"); got != "Банк сообщил об ошибке weird_411111******1111." {
		t.Errorf("unknown code: got %q", got)
	}
}
