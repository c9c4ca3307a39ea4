package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/intake"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/queue"
	"github.com/payrun/payrun/internal/secret"
	"github.com/payrun/payrun/internal/testutil"
)

// sealedKeyIDs returns the key ids the batch's card numbers were sealed
// to, read from the intake messages the ledger recorded.
func (s *system) sealedKeyIDs(batch string, rows int) map[string]int {
	s.t.Helper()
	js, err := jetstream.New(s.nc)
	require.NoError(s.t, err)
	stream, err := js.Stream(context.Background(), queue.StreamIntake)
	require.NoError(s.t, err)
	ids := map[string]int{}
	for n := 1; n <= rows; n++ {
		m, err := stream.GetMsg(context.Background(), s.row(batch, n).IntakeSeq)
		require.NoError(s.t, err)
		r, err := intake.DecodeRow(m.Data)
		require.NoError(s.t, err)
		require.Len(s.t, r.Digest, 64, "row %d carries its keyed digest", n)
		if r.Card == nil {
			continue
		}
		require.Len(s.t, r.Card.Fingerprint, 32, "row %d carries the card's fingerprint", n)
		parts := strings.Split(r.Card.Sealed, ":")
		require.Len(s.t, parts, 4, "row %d: %s", n, r.Card.Sealed)
		require.Equal(s.t, "hpke1", parts[0])
		ids[parts[1]]++
	}
	return ids
}

// writeBankKeys writes the bank's public keys, one PEM block each, as the
// relay's --bank-public-key file.
func writeBankKeys(t *testing.T, path string, keys ...*rsa.PublicKey) {
	t.Helper()
	var b []byte
	for _, k := range keys {
		der, err := x509.MarshalPKIXPublicKey(k)
		require.NoError(t, err)
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})...)
	}
	require.NoError(t, os.WriteFile(path, b, 0o600))
}

// TestKeyRotation rotates both keys across batches, binaries against the
// sandbox binary:
//
//   - the card key: batch 1 is sealed to card key A and waits for approval;
//     `payrun keys rotate` adds B (last in card.pub); the processors restart
//     holding A and B; batch 2 is sealed to B; both pay.
//   - the bank's webhook key: the relay's key file holds the old key, then
//     the old and the new one (batch 1 is paid with webhooks signed with the
//     old key); the sandbox switches to the new key (batch 2 is paid with
//     webhooks signed with it); then the old key is removed from the file
//     and a webhook signed with it is refused.
func TestKeyRotation(t *testing.T) {
	dir := t.TempDir()
	relayKeys := filepath.Join(dir, "bank_keys.pem")
	oldBank, err := os.ReadFile(filepath.Join(repoRoot, "samples/keys/bank_public.pem"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(relayKeys, oldBank, 0o600))
	s := startSystem(t, options{processors: 2, bankPublicKey: relayKeys})

	// The new bank key pair (made here, for this test only).
	newBankPriv, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	newBankFile := filepath.Join(dir, "new_bank_private.pem")
	require.NoError(t, os.WriteFile(newBankFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY",
		Bytes: x509.MarshalPKCS1PrivateKey(newBankPriv)}), 0o600))
	oldBankPriv := bankKey(t)

	keysA, err := secret.ReadCardKeys(filepath.Join(s.keys, secret.CardKeyFile))
	require.NoError(t, err)
	require.Len(t, keysA, 1)
	a := keysA[0].ID

	// Batch 1: sealed to A, held for approval.
	pans := []string{"4242424242424242", "5555555555554444", "4111111111111111"}
	file1 := payoutFile(t, s.dir, "batch1.csv", []map[string]string{
		cardRow("R1-1", "1500.00", "Ivanov Ivan", pans[0]),
		cardRow("R1-2", "2500.50", "Petrova Anna", pans[1]),
		tokenRow("R1-3", "700.00", "Token Person", "tok_rot_0001"),
	})
	batch1 := s.upload("mia", file1) // waits for its approval (the default policy)
	testutil.Eventually(t, 30*time.Second, 50*time.Millisecond, func() error {
		b, err := s.ledger.Batch(context.Background(), batch1)
		if err != nil {
			return err
		}
		if b.Status != payout.BatchAwaitingApproval {
			return fmt.Errorf("batch 1 is %s", b.Status)
		}
		return nil
	})
	require.Equal(t, map[string]int{a: 2}, s.sealedKeyIDs(batch1, 3))

	// Rotate the card key; the processors restart holding A and B.
	code, out, stderr := runBin(t, "payrun", "keys", "rotate", "--dir", s.keys)
	require.Equal(t, 0, code, stderr)
	keysAB, err := secret.ReadCardKeys(filepath.Join(s.keys, secret.CardKeyFile))
	require.NoError(t, err)
	require.Len(t, keysAB, 2)
	b := keysAB[1].ID
	require.Equal(t, a, keysAB[0].ID)
	require.Contains(t, out, "added card key "+b)
	var restarted []*proc
	s.mu.Lock()
	procs := append([]*proc(nil), s.procs...)
	s.mu.Unlock()
	for _, p := range procs {
		if p.bin == "processor" && !p.exited() {
			p.stop()
			restarted = append(restarted, s.startProcessor(p.name))
		}
	}
	require.Len(t, restarted, 2)
	for _, p := range restarted {
		testutil.Eventually(t, 20*time.Second, 50*time.Millisecond, func() error {
			log, _ := os.ReadFile(p.log)
			if !strings.Contains(string(log), `"key_ids":["`+a+`","`+b+`"]`) {
				return fmt.Errorf("%s has not loaded card keys %s and %s yet", p.name, a, b)
			}
			return nil
		})
	}

	// The bank's new webhook key joins the old one in the relay's file.
	writeBankKeys(t, relayKeys, &oldBankPriv.PublicKey, &newBankPriv.PublicKey)
	s.relay.stop()
	s.startRelay(relayKeys)
	probe := []byte(`{"type":"confirmation_payout","session":{"id":"ps_rotation_probe"}}`)
	require.Equal(t, http.StatusOK, s.post(t, probe, oldBankPriv), "signed with the old key, both in the file")
	require.Equal(t, http.StatusOK, s.post(t, probe, newBankPriv), "signed with the new key, both in the file")

	// Batch 1 is paid: numbers sealed to A opened by processors holding A
	// and B, webhooks signed with the old bank key.
	s.approve("carl", batch1)
	sum := s.waitFinal(batch1, 3, 60*time.Second, nil)
	require.Equal(t, 3, sum.ByState[payout.StateSucceeded], "%+v", sum)
	s.agree(batch1, 3)

	// The bank switches to its new key. (A sandbox started again forgets
	// the ids it gave out, and its first id comes from the clock's second:
	// started within the same second it would reuse them, which the bank
	// never does.)
	s.sandbox.stop()
	s.startSandbox(newBankFile, "--first-id", "900000000")

	// Batch 2: sealed to B, paid with webhooks signed with the new key.
	file2 := payoutFile(t, s.dir, "batch2.csv", []map[string]string{
		cardRow("R2-1", "1200.00", "Sidorov Petr", pans[2]),
		cardRow("R2-2", "800.00", "Ivanov Ivan", pans[0]),
		tokenRow("R2-3", "900.00", "Token Person", "tok_rot_0002"),
	})
	batch2 := s.ingest(file2)
	sum = s.waitFinal(batch2, 3, 60*time.Second, nil)
	require.Equal(t, 3, sum.ByState[payout.StateSucceeded], "%+v", sum)
	s.agree(batch2, 3)
	require.Equal(t, map[string]int{b: 2}, s.sealedKeyIDs(batch2, 3))

	// The old bank key is removed: a webhook signed with it is refused.
	writeBankKeys(t, relayKeys, &newBankPriv.PublicKey)
	s.relay.stop()
	s.startRelay(relayKeys)
	require.Equal(t, http.StatusUnauthorized, s.post(t, probe, oldBankPriv), "the old key was removed")
	require.Equal(t, http.StatusOK, s.post(t, probe, newBankPriv))

	logsHaveNoCardNumbers(t, s, pans...)
}
