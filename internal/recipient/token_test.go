package recipient

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestToken(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	id := strings.Repeat("ab", 16)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	exp := now.Add(time.Hour)
	tok := Sign(key, id, exp)

	got, err := Verify(key, tok, now)
	require.NoError(t, err)
	require.Equal(t, id, got)

	// Expiry: open until the second before exp.
	_, err = Verify(key, tok, exp.Add(-time.Second))
	require.NoError(t, err)
	_, err = Verify(key, tok, exp)
	require.ErrorIs(t, err, ErrExpired)

	// Tampering: another key, another id, a later expiry, a changed mac.
	_, err = Verify(bytes.Repeat([]byte{8}, 32), tok, now)
	require.ErrorIs(t, err, ErrTampered)
	parts := strings.Split(tok, ".")
	other := strings.Repeat("cd", 16) + "." + parts[1] + "." + parts[2]
	_, err = Verify(key, other, now)
	require.ErrorIs(t, err, ErrTampered)
	later := Sign(key, id, exp.Add(time.Hour))
	forged := parts[0] + "." + strings.Split(later, ".")[1] + "." + parts[2]
	_, err = Verify(key, forged, now)
	require.ErrorIs(t, err, ErrTampered, "a later expiry needs the key")
	flipped := []byte(tok)
	if flipped[len(flipped)-2] == 'A' {
		flipped[len(flipped)-2] = 'B'
	} else {
		flipped[len(flipped)-2] = 'A'
	}
	_, err = Verify(key, string(flipped), now)
	require.ErrorIs(t, err, ErrTampered)

	for _, bad := range []string{"", "x", id, id + ".1", "zz" + id[2:] + "." + parts[1] + "." + parts[2],
		id + ".!." + parts[2], id + "." + parts[1] + ".***", strings.Repeat("a", 200)} {
		_, err := Verify(key, bad, now)
		require.ErrorIs(t, err, ErrMalformed, "%q", bad)
	}
}

// FuzzVerify: whatever verifies is exactly a token Sign made.
func FuzzVerify(f *testing.F) {
	key := bytes.Repeat([]byte{7}, 32)
	f.Add(Sign(key, strings.Repeat("ab", 16), time.Unix(2e9, 0)))
	f.Add("..")
	f.Add(strings.Repeat("0", 32) + ".z.AAAA")
	f.Fuzz(func(t *testing.T, tok string) {
		id, err := Verify(key, tok, time.Unix(0, 0))
		if err != nil {
			return
		}
		exp, perr := strconv.ParseInt(strings.Split(tok, ".")[1], 36, 64)
		require.NoError(t, perr)
		require.Equal(t, tok, Sign(key, id, time.Unix(exp, 0)))
	})
}
