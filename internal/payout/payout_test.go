package payout

import (
	"crypto/sha256"
	"testing"
)

func TestLuhn(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"4242424242424242", true},
		{"4242424242424243", false},
		{"2200000000000004", true},
		{"5555555555554444", true},
		{"", false},
		{"42a2", false},
	}
	for _, tt := range tests {
		if got := Luhn(tt.in); got != tt.want {
			t.Errorf("Luhn(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestBankRefRoundTrip(t *testing.T) {
	id := BatchID(sha256.New().Sum(nil))
	ref := BankRef{Batch: id, Row: 42, Reference: "E-042/2026-11"}
	got, err := ParseBankRef(ref.Metadata())
	if err != nil || got != ref {
		t.Fatalf("got %+v, %v; want %+v", got, err, ref)
	}
	// As a JSON string holding the object (daily report form).
	quoted := []byte(`"` + escape(string(ref.Metadata())) + `"`)
	if got, err := ParseBankRef(quoted); err != nil || got != ref {
		t.Fatalf("quoted: got %+v, %v", got, err)
	}
	if got, err := ParseBankRef([]byte(ref.String())); err != nil || got.Row != 42 || got.Batch != id {
		t.Fatalf("bare: got %+v, %v", got, err)
	}
	for _, bad := range []string{`"good"`, `{"payrun":"x/1"}`, `{"payrun":"` + id + `/0"}`, `null`} {
		if _, err := ParseBankRef([]byte(bad)); err == nil {
			t.Errorf("ParseBankRef(%s) accepted", bad)
		}
	}
}

func escape(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			out = append(out, '\\')
		}
		out = append(out, s[i])
	}
	return string(out)
}

func TestTransitions(t *testing.T) {
	for from, tos := range Next {
		if from.Terminal() && from != StateSucceeded && len(tos) > 0 {
			t.Errorf("terminal %s has transitions %v", from, tos)
		}
		for _, to := range tos {
			if _, ok := Next[to]; !ok {
				t.Errorf("%s -> %s: target state not in table", from, to)
			}
		}
	}
	if CanMove(StateConfirmed, StateCancelled) {
		t.Error("a confirmed row must not be cancelled")
	}
	if CanMove(StateInDoubt, StateOpening) {
		t.Error("an in-doubt row must never be opened again")
	}
}
