package bank131

import (
	"fmt"
	"strings"
)

// IDTypeRussianPassport is identity_document.id_type for a Russian passport:
// the only value seed 003 documents ("Возможное значение: Паспорт
// гражданина Российской Федерации", S3:243). Sent byte for byte.
const IDTypeRussianPassport = "Паспорт гражданина Российской Федерации"

// CompactIDNumber removes the spaces from a document's series and number:
// seed 003 wants id_number "без пробелов" (S3:244, S3:249), although its
// examples print "8008 579120".
func CompactIDNumber(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\u00a0' || r == '\t' {
			return -1
		}
		return r
	}, s)
}

// phonePlan is how PhoneFromE164 splits a number: the calling code, the
// country, the national number's length and the operator code's length
// (the short number is the rest). Seed 003 shows only Russian numbers
// (+7 937 6151530 → RUS, 937, 6151530; S3:740-744); the others follow the
// countries' numbering plans (Kazakhstan shares +7 with the ranges 6xx and
// 7xx, Turkey +90 and 10 digits, Kyrgyzstan +996 and 9 digits).
type phonePlan struct {
	code     string
	country  string
	nsn      int
	operator int
	first    string // the national number's first digit must be one of these ("" = any)
}

var phonePlans = []phonePlan{
	{code: "996", country: "KGZ", nsn: 9, operator: 3},
	{code: "90", country: "TUR", nsn: 10, operator: 3},
	{code: "7", country: "KAZ", nsn: 10, operator: 3, first: "67"},
	{code: "7", country: "RUS", nsn: 10, operator: 3, first: "3489"},
}

// PhoneFromE164 splits an international number into the four fields seed
// 003 marks required for a sender's phone (S3:238-241): full_number
// ("+<country code><number>"), country_iso3, operator_code and
// short_number ("the number without the operator code"). Spaces, hyphens
// and brackets are dropped. Numbers of other countries, or of the wrong
// length, are an error that names the number.
func PhoneFromE164(number string) (Phone, error) {
	s := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\u00a0', '-', '(', ')':
			return -1
		}
		return r
	}, strings.TrimSpace(number))
	if !strings.HasPrefix(s, "+") || len(s) < 2 || strings.Trim(s[1:], "0123456789") != "" {
		return Phone{}, fmt.Errorf("phone %q: want +<country code><number>, digits only", number)
	}
	digits := s[1:]
	for _, p := range phonePlans {
		nsn, ok := strings.CutPrefix(digits, p.code)
		if !ok || (p.first != "" && (nsn == "" || !strings.ContainsRune(p.first, rune(nsn[0])))) {
			continue
		}
		if len(nsn) != p.nsn {
			return Phone{}, fmt.Errorf("phone %q: a %s number has %d digits after +%s, not %d", number, p.country, p.nsn, p.code, len(nsn))
		}
		return Phone{FullNumber: s, CountryISO3: p.country, OperatorCode: nsn[:p.operator], ShortNumber: nsn[p.operator:]}, nil
	}
	return Phone{}, fmt.Errorf("phone %q: only Russian (+7 3/4/8/9…), Kazakh (+7 6/7…), Turkish (+90) and Kyrgyz (+996) numbers can be split", number)
}
