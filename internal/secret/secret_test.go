package secret

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	key := make([]byte, KeySize)
	key[0] = 7
	s, err := NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	pan := "4242424242424242"
	c1 := s.Seal(pan, "b1/1")
	if strings.Contains(c1, pan) || strings.Contains(c1, "4242") {
		t.Fatalf("sealed value shows the number: %s", c1)
	}
	if c2 := s.Seal(pan, "b1/1"); c2 != c1 {
		t.Errorf("sealing is not deterministic: %s vs %s", c1, c2)
	}
	if c3 := s.Seal(pan, "b1/2"); c3 == c1 {
		t.Error("different rows gave the same ciphertext")
	}
	got, err := s.Open(c1, "b1/1")
	if err != nil || got != pan {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := s.Open(c1, "b1/2"); !errors.Is(err, ErrOpen) {
		t.Errorf("opened under another row: %v", err)
	}
	other, _ := NewSealer(make([]byte, KeySize))
	if _, err := other.Open(c1, "b1/1"); !errors.Is(err, ErrOpen) {
		t.Errorf("opened with another key: %v", err)
	}
	if _, err := s.Open("not base64!", "b1/1"); !errors.Is(err, ErrOpen) {
		t.Errorf("garbage: %v", err)
	}
}

func TestLoadKey(t *testing.T) {
	t.Setenv(EnvKey, "")
	path := filepath.Join(t.TempDir(), "data", "data.key")
	if _, err := LoadKey(path, false); err == nil {
		t.Fatal("missing key without create: want error")
	}
	k1, err := LoadKey(path, true)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadKey(path, true)
	if err != nil || string(k1) != string(k2) {
		t.Fatalf("second load differs: %v", err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	t.Setenv(EnvKey, strings.Repeat("ab", KeySize))
	k3, err := LoadKey(path, false)
	if err != nil || k3[0] != 0xab {
		t.Fatalf("env key: %v", err)
	}
	t.Setenv(EnvKey, "short")
	if _, err := LoadKey(path, false); err == nil {
		t.Error("bad env key accepted")
	}
}
