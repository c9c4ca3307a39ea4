package console

import (
	"math"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/report"
)

func TestFormatMoney(t *testing.T) {
	for _, tt := range []struct {
		minor    int64
		currency string
		ru, en   string
	}{
		{107933277, "RUB", "1 079 332,77 ₽", "1,079,332.77 RUB"},
		{1500000, "KGS", "15 000,00 KGS", "15,000.00 KGS"},
		{30000, "USD", "300,00 USD", "300.00 USD"},
		{5, "RUB", "0,05 ₽", "0.05 RUB"},
		{0, "RUB", "0,00 ₽", "0.00 RUB"},
		{-12345, "RUB", "−123,45 ₽", "−123.45 RUB"},
		{100000, "RUB", "1 000,00 ₽", "1,000.00 RUB"},
		{99999999, "TRY", "999 999,99 TRY", "999,999.99 TRY"},
		{1234567, "JPY", "1 234 567 JPY", "1,234,567 JPY"},
		{1234567, "KWD", "1 234,567 KWD", "1,234.567 KWD"},
		{math.MaxInt64, "RUB", "92 233 720 368 547 758,07 ₽", "92,233,720,368,547,758.07 RUB"},
		{math.MinInt64, "RUB", "−92 233 720 368 547 758,08 ₽", "−92,233,720,368,547,758.08 RUB"},
	} {
		a := money.Amount{Minor: tt.minor, Currency: tt.currency}
		// The table writes spaces; the console joins with no-break spaces.
		if got := strings.ReplaceAll(FormatMoney(Russian, a), nbsp, " "); got != tt.ru {
			t.Errorf("ru %d %s: got %q, want %q", tt.minor, tt.currency, got, tt.ru)
		}
		if got := strings.ReplaceAll(FormatMoney(English, a), nbsp, " "); got != tt.en {
			t.Errorf("en %d %s: got %q, want %q", tt.minor, tt.currency, got, tt.en)
		}
		if strings.Contains(FormatMoney(Russian, a), " ") {
			t.Errorf("ru %d: a breaking space in %q", tt.minor, FormatMoney(Russian, a))
		}
	}
}

func TestFormatTime(t *testing.T) {
	msk, err := LoadZone("")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 25, 9, 5, 0, 0, time.UTC)
	if got := FormatTime(Russian, at, msk); got != "25.11.2026 12:05 MSK" {
		t.Errorf("ru: got %q", got)
	}
	if got := FormatTime(English, at, msk); got != "25 Nov 2026 12:05 MSK" {
		t.Errorf("en: got %q", got)
	}
	ekb, _ := LoadZone("Asia/Yekaterinburg")
	if got := FormatTime(English, at, ekb); got != "25 Nov 2026 14:05 +05" {
		t.Errorf("a zone without a name shows its offset: got %q", got)
	}
	if _, err := LoadZone("Mars/Olympus"); err == nil {
		t.Error("an unknown zone is an error")
	}
	for _, tt := range []struct {
		d      time.Duration
		ru, en string
	}{
		{30 * time.Second, "меньше минуты", "less than a minute"},
		{5 * time.Minute, "5 мин", "5 min"},
		{3*time.Hour + 20*time.Minute, "3 ч 20 мин", "3 h 20 min"},
		{2 * time.Hour, "2 ч", "2 h"},
		{50 * time.Hour, "2 д 2 ч", "2 d 2 h"},
		{48 * time.Hour, "2 д", "2 d"},
	} {
		if got := FormatAge(Russian, tt.d); got != tt.ru {
			t.Errorf("ru %s: got %q, want %q", tt.d, got, tt.ru)
		}
		if got := FormatAge(English, tt.d); got != tt.en {
			t.Errorf("en %s: got %q, want %q", tt.d, got, tt.en)
		}
	}
}

func TestAcceptLang(t *testing.T) {
	for h, want := range map[string]Lang{
		"":                                English,
		"ru-RU,ru;q=0.9,en-US;q=0.8":      Russian,
		"en-US,en;q=0.9,ru;q=0.8":         English,
		"de-DE,de;q=0.9":                  English,
		"de;q=1, ru;q=0.7, en;q=0.5":      Russian,
		"en;q=0.3, ru;q=0.6":              Russian,
		"ru;q=0, en":                      English,
		"uk-UA,uk;q=0.9,ru;q=0.8,en;q=.7": Russian,
	} {
		if got := acceptLang(h); got != want {
			t.Errorf("%q: got %s, want %s", h, got, want)
		}
	}
}

// verbs lists a message's fmt verbs in order.
var verbRE = regexp.MustCompile(`%[-+# 0]*[0-9]*[a-zA-Z%]`)

// TestCatalogue: every key has both languages with the same verbs; every
// key the templates and the code name exists, and so does every key made
// from a state, status, method, role, category, error code or report
// format; the Russian text is Russian.
func TestCatalogue(t *testing.T) {
	for k, m := range catalogue {
		if strings.TrimSpace(m.en) == "" || strings.TrimSpace(m.ru) == "" {
			t.Errorf("%s: a language is missing: %+v", k, m)
		}
		if a, b := verbRE.FindAllString(m.en, -1), verbRE.FindAllString(m.ru, -1); strings.Join(a, " ") != strings.Join(b, " ") {
			t.Errorf("%s: verbs differ: en %v, ru %v", k, a, b)
		}
		if k != "lang.switch" && !regexp.MustCompile(`[а-яА-ЯёЁ]`).MatchString(m.ru) && !onlyCodes(m.ru) {
			t.Errorf("%s: %q is not Russian", k, m.ru)
		}
	}
	var used []string
	files, _ := templateFS.ReadDir("templates")
	for _, f := range files {
		b, _ := templateFS.ReadFile("templates/" + f.Name())
		for _, m := range regexp.MustCompile(`T "([a-z_0-9.]+)"`).FindAllStringSubmatch(string(b), -1) {
			used = append(used, m[1])
		}
	}
	goFiles, _ := os.ReadDir(".")
	for _, f := range goFiles {
		if !strings.HasSuffix(f.Name(), ".go") || strings.HasSuffix(f.Name(), "_test.go") {
			continue
		}
		b, _ := os.ReadFile(f.Name())
		for _, m := range regexp.MustCompile(`\.T\("([a-z_0-9.]+[a-z_0-9])"`).FindAllStringSubmatch(string(b), -1) {
			used = append(used, m[1])
		}
		for _, m := range regexp.MustCompile(`"((?:code|next|why)\.[a-z_]+)"`).FindAllStringSubmatch(string(b), -1) {
			used = append(used, m[1])
		}
	}
	for _, s := range stateOrder {
		used = append(used, "state."+string(s))
	}
	used = append(used, "state.held")
	for _, a := range append(append([]Action{}, BatchActions...), RowActions...) {
		used = append(used, a.Label)
	}
	for _, s := range batchStatuses {
		used = append(used, "status."+string(s))
	}
	for _, m := range []string{"card", "token", "encrypted_card", "transfer"} {
		used = append(used, "method."+m)
	}
	for _, r := range auth.AllRoles {
		used = append(used, "role."+string(r))
	}
	for _, g := range groupOrder {
		used = append(used, "group."+g)
	}
	for _, f := range report.Formats {
		used = append(used, "batch.report_"+strings.ReplaceAll(f, ".", "_"))
	}
	for _, c := range []ledgerapi.Code{ledgerapi.CodeInvalid, ledgerapi.CodeNotFound, ledgerapi.CodeForbidden, ledgerapi.CodeUnauthorized,
		ledgerapi.CodeStale, ledgerapi.CodeConflict, ledgerapi.CodeIllegal, ledgerapi.CodeTooLarge, ledgerapi.CodeTooMany,
		ledgerapi.CodeTimeout, ledgerapi.CodeUnavailable, ledgerapi.CodeRateLimited, ledgerapi.CodeInternal} {
		used = append(used, "error."+string(c))
	}
	for _, p := range []string{"credentials", "totp", "totp_required", "rate_limited", "invalid"} {
		used = append(used, "signin."+p)
	}
	for _, s := range []string{"created", "existing", "valid", "invalid"} {
		used = append(used, "upload.status_"+s)
	}
	for _, d := range []string{"approved", "rejected", "cancelled", "uploaded", "existing", "action", "no_errors", "exception_assign",
		"exception_comment", "exception_resolve", "user_added", "user_disable", "user_enable", "user_roles", "user_password",
		"token_created", "token_revoked", "policy_saved", "link_issued"} {
		used = append(used, "done."+d)
	}
	sort.Strings(used)
	for _, k := range used {
		if _, ok := catalogue[k]; !ok {
			t.Errorf("key %q is used but not in the catalogue", k)
		}
	}
}

// onlyCodes: a message of codes and figures only (e.g. "%d of %d" → "%d из %d" has Cyrillic; "%d min" → "%d мин").
func onlyCodes(s string) bool {
	return !regexp.MustCompile(`[A-Za-z]{3,}`).MatchString(verbRE.ReplaceAllString(s, ""))
}
