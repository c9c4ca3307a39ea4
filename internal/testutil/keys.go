package testutil

import (
	"testing"

	"github.com/payrun/payrun/internal/secret"
)

// Keys makes a card key pair and upload keys for a test: the Sealer the
// upload side holds and the Opener of a processor holding the key pair.
func Keys(t testing.TB) (*secret.Sealer, *secret.Opener) {
	t.Helper()
	k, err := secret.GenerateCardKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := secret.NewSealer(k.Public(), secret.GenerateUploadKeys())
	if err != nil {
		t.Fatal(err)
	}
	o, err := secret.NewOpener([]*secret.CardKey{k}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, o
}
