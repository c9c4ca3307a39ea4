package main

import (
	"bytes"
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131"
)

// syncBuffer is a bytes.Buffer safe for the logger and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRun starts the command the way a user does, with the sample keys
// (which carry a comment line before the PEM block), and signs a call to it.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	urls := make(chan string, 1)
	done := make(chan error, 1)
	var logs syncBuffer
	go func() {
		done <- run(ctx, []string{
			"--listen", "127.0.0.1:0",
			"--partner-public-key", "../../samples/keys/partner_public.pem",
			"--bank-private-key", "../../samples/keys/bank_private.pem",
			"--extra-project", "payrun-pci:single-request",
			"--processing-delay", "5ms", "--fault-seed", "3",
		}, &logs, func(u string) { urls <- u })
	}()
	var url string
	select {
	case url = <-urls:
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("sandbox did not start")
	}

	pem, err := os.ReadFile("../../samples/keys/partner_private.pem")
	require.NoError(t, err)
	key, err := bank131.LoadPrivateKey(pem)
	require.NoError(t, err)
	for _, project := range []string{"payrun", "payrun-pci"} {
		c, err := bank131.NewClient(bank131.Config{BaseURL: url, Project: project, PrivateKey: key})
		require.NoError(t, err)
		r, err := c.CreateSession(ctx, bank131.CreateSessionRequest{})
		require.NoError(t, err)
		require.Equal(t, bank131.SessionCreated, r.Session.Status)
	}
	cancel()
	require.NoError(t, <-done)
	require.Contains(t, logs.String(), "sandbox ready")
}

func TestRunBadFlags(t *testing.T) {
	var logs syncBuffer
	keys := []string{"--listen", "127.0.0.1:0",
		"--partner-public-key", "../../samples/keys/partner_public.pem", "--bank-private-key", "../../samples/keys/bank_private.pem"}
	for _, args := range [][]string{
		{"--mode", "sometimes"},
		{"--extra-project", "nomode"},
		{"--extra-project", "x:weird"},
		{"--unknown-project-code", "nope"},
		{"--log-level", "loud"},
		{"--bank-private-key", "../../samples/keys/partner_public.pem"},
		{"--hook-amounts", "double"},
		{"--bpa-version", "v2"},
		{"--idempotency-ttl", "-1s"},
		{"--wallet-balance", "-1"},
		{"--wallet-balance", "lots"},
	} {
		err := run(context.Background(), append(append([]string(nil), keys...), args...), &logs, nil)
		require.Error(t, err, "%v", args)
	}
	err := run(context.Background(), []string{"--partner-public-key", "/nonexistent.pem"}, &logs, nil)
	require.ErrorContains(t, err, "partner public key")
}

// TestRunModes: the mode flags reach the sandbox.
func TestRunModes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	urls := make(chan string, 1)
	done := make(chan error, 1)
	var logs syncBuffer
	go func() {
		done <- run(ctx, []string{
			"--listen", "127.0.0.1:0",
			"--partner-public-key", "../../samples/keys/partner_public.pem",
			"--bank-private-key", "../../samples/keys/bank_private.pem",
			"--wallet-balance", "1 234,50", "--wrong-state-code", "invalid_request", "--submerchant", "required",
			"--bpa-version", "v1",
		}, &logs, func(u string) { urls <- u })
	}()
	var url string
	select {
	case url = <-urls:
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("sandbox did not start")
	}
	pem, err := os.ReadFile("../../samples/keys/partner_private.pem")
	require.NoError(t, err)
	key, err := bank131.LoadPrivateKey(pem)
	require.NoError(t, err)
	c, err := bank131.NewClient(bank131.Config{BaseURL: url, Project: "payrun", PrivateKey: key, Submerchant: "SUB-1", BPAVersion: "v1"})
	require.NoError(t, err)
	b, err := c.WalletBalance(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 123450, b.Wallets[0].AmountDetails.Amount)
	s, err := c.CreateSession(ctx, bank131.CreateSessionRequest{})
	require.NoError(t, err)
	_, err = c.Confirm(ctx, s.Session.ID, nil)
	require.Equal(t, bank131.CodeInvalidRequest, bank131.ErrorCode(err), "--wrong-state-code")
	plain, err := bank131.NewClient(bank131.Config{BaseURL: url, Project: "payrun", PrivateKey: key})
	require.NoError(t, err)
	_, err = plain.Status(ctx, s.Session.ID)
	require.Equal(t, bank131.CodeAuthorization, bank131.ErrorCode(err), "--submerchant required")
	_, err = plain.MultiInitPayment(ctx, bank131.MultiInitPaymentRequest{})
	var api *bank131.APIError
	require.ErrorAs(t, err, &api)
	require.Equal(t, 404, api.HTTPStatus, "--bpa-version v1: v1.1 is not served")
	cancel()
	require.NoError(t, <-done)
}
