package redact

import "testing"

func TestCards(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"no digits", "no digits"},
		{"card 4242 4242 4242 4242 of Ivan", "card ****4242 of Ivan"},
		{"paid to 5555555555554444", "paid to ****4444"},
		{"5555-5555-5555-4444", "****4444"},
		{"4242424242424243 fails Luhn", "4242424242424243 fails Luhn"},
		{"id a4242424242424242 is a word", "id a4242424242424242 is a word"},
		{"123456789012", "123456789012"},
		{"two: 4242424242424242 and 4000056655665556", "two: ****4242 and ****5556"},
	}
	for _, tt := range tests {
		if got := Cards(tt.in); got != tt.want {
			t.Errorf("Cards(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
