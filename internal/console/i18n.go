package console

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// Lang is the language of a page: Russian or English.
type Lang string

// The languages of the console.
const (
	Russian Lang = "ru"
	English Lang = "en"
)

// LangCookie keeps the language a person chose.
const LangCookie = "payrun_lang"

// T returns the message key in the language, formatted with args
// (fmt.Sprintf). A key missing from the catalogue shows as itself, so a
// slip is visible on the page; TestCatalogue keeps every key in both
// languages and every key the templates use in the catalogue.
func (l Lang) T(key string, args ...any) string {
	m, ok := catalogue[key]
	if !ok {
		return key
	}
	s := m.en
	if l == Russian {
		s = m.ru
	}
	if len(args) == 0 {
		return s
	}
	return fmt.Sprintf(s, args...)
}

// Has reports whether the catalogue has key.
func (l Lang) Has(key string) bool {
	_, ok := catalogue[key]
	return ok
}

// Other is the language the switch offers.
func (l Lang) Other() Lang {
	if l == Russian {
		return English
	}
	return Russian
}

// parseLang reads "ru" or "en" (any case); ok is false for anything else.
func parseLang(s string) (Lang, bool) {
	switch Lang(strings.ToLower(strings.TrimSpace(s))) {
	case Russian:
		return Russian, true
	case English:
		return English, true
	}
	return "", false
}

// requestLang is the language of a request: ?lang= (which the language
// switch sends, and which is then kept in a cookie), else the cookie, else
// Russian when the browser's Accept-Language puts Russian before English,
// else English.
func requestLang(w http.ResponseWriter, r *http.Request, secure bool) Lang {
	if l, ok := parseLang(r.URL.Query().Get("lang")); ok {
		http.SetCookie(w, &http.Cookie{Name: LangCookie, Value: string(l), Path: "/", MaxAge: 365 * 24 * 3600,
			HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secure})
		return l
	}
	if c, err := r.Cookie(LangCookie); err == nil {
		if l, ok := parseLang(c.Value); ok {
			return l
		}
	}
	return acceptLang(r.Header.Get("Accept-Language"))
}

// acceptLang picks Russian or English from an Accept-Language header: the
// one with the higher weight, the earlier on a tie; English when the
// header names neither.
func acceptLang(h string) Lang {
	type pref struct {
		lang Lang
		q    float64
		pos  int
	}
	var prefs []pref
	for i, part := range strings.Split(h, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		base, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		l, ok := parseLang(base)
		if !ok {
			continue
		}
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.TrimSpace(k) == "q" {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				}
			}
		}
		if q > 0 {
			prefs = append(prefs, pref{l, q, i})
		}
	}
	if len(prefs) == 0 {
		return English
	}
	sort.SliceStable(prefs, func(i, j int) bool { return prefs[i].q > prefs[j].q })
	return prefs[0].lang
}
