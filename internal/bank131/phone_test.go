package bank131

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPhoneFromE164(t *testing.T) {
	tests := []struct {
		in   string
		want Phone
	}{
		// Seed 003's own examples (S3:740-744, 592-595, 936-939).
		{"+79376151530", Phone{"+79376151530", "RUS", "937", "6151530"}},
		{"+79377654321", Phone{"+79377654321", "RUS", "937", "7654321"}},
		{"+7 (937) 123-45-67", Phone{"+79371234567", "RUS", "937", "1234567"}},
		{"+74951234567", Phone{"+74951234567", "RUS", "495", "1234567"}},
		{"+78121234567", Phone{"+78121234567", "RUS", "812", "1234567"}},
		{"+73412123456", Phone{"+73412123456", "RUS", "341", "2123456"}},
		// Kazakhstan shares +7 (6xx, 7xx).
		{"+77011234567", Phone{"+77011234567", "KAZ", "701", "1234567"}},
		{"+7 727 123 4567", Phone{"+77271234567", "KAZ", "727", "1234567"}},
		// Turkey: +90, 10 digits (the seed's shape 3 + 7).
		{"+905321234567", Phone{"+905321234567", "TUR", "532", "1234567"}},
		{"+90 212 123 45 67", Phone{"+902121234567", "TUR", "212", "1234567"}},
		// Kyrgyzstan: +996, 9 digits, 3 + 6.
		{"+996555123456", Phone{"+996555123456", "KGZ", "555", "123456"}},
		{"+996 700 12 34 56", Phone{"+996700123456", "KGZ", "700", "123456"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := PhoneFromE164(tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			require.Equal(t, got.FullNumber, "+"+map[string]string{"RUS": "7", "KAZ": "7", "TUR": "90", "KGZ": "996"}[got.CountryISO3]+got.OperatorCode+got.ShortNumber)
		})
	}
	for _, bad := range []string{
		"", "79376151530", "+", "+7937615153", "+793761515300", "+7 937 615 15 3x",
		"+71234567890",                                                  // +7 1xx is neither Russian nor Kazakh
		"+9053212345", "+99655512345", "+4912345678901", "+43523452345", // Austria: the seed's "TUR" example is not Turkish
	} {
		_, err := PhoneFromE164(bad)
		require.Error(t, err, bad)
		if bad != "" {
			require.Contains(t, err.Error(), bad, "the error names the number")
		}
	}
}

func TestCompactIDNumber(t *testing.T) {
	require.Equal(t, "8008579120", CompactIDNumber("8008 579120"))
	require.Equal(t, "4510123456", CompactIDNumber(" 45 10\u00a0123456 "))
	require.Equal(t, "AB123", CompactIDNumber("AB123"))
}
