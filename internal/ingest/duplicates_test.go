package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/batch"
	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/testutil"
)

const dupHeader = "reference,method,amount,currency,full_name,card_number,card_token"

func dupFile(t *testing.T, name string, rows ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(dupHeader+"\n"+strings.Join(rows, "\n")+"\n"), 0o600))
	return path
}

// TestCheckDuplicates: before an upload, validation reports as warnings
// naming both rows the rows the ledger's duplicate guard would hold:
// repeats of a reference in flight or paid in another batch, and probable
// duplicates in the ledger or earlier in the same file.
func TestCheckDuplicates(t *testing.T) {
	ctx := context.Background()
	e := startJS(t)
	db, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"))
	require.NoError(t, err)
	svc := ledger.NewService(db, ledger.Config{ReleaseInterval: 20 * time.Millisecond, Logger: testutil.QuietLogger()})
	require.NoError(t, svc.Start(ctx, e.nc))
	t.Cleanup(func() { svc.Close(); db.Close() })
	_, err = svc.SetPolicy(ctx, auth.HostActor("test"), auth.Policy{Approvals: 1}) // released without approval
	require.NoError(t, err)

	first := dupFile(t, "november.csv",
		"E-1,token,1500.00,RUB,Ivan Petrov,,tok_ivan",
		"E-2,token,2500.00,RUB,Anna Petrova,,tok_anna")
	paid, err := Ingest(ctx, e.js, first, Options{Sealer: testSealer(t), Logger: testutil.QuietLogger()})
	require.NoError(t, err)
	testutil.Eventually(t, 10*time.Second, 20*time.Millisecond, func() error {
		b, err := db.Batch(ctx, paid.Batch)
		if err != nil {
			return err
		}
		if b.Status != payout.BatchReleased {
			return fmt.Errorf("batch %s", b.Status)
		}
		return nil
	})

	corrected := dupFile(t, "november-fixed.csv",
		"E-1,token,1500.01,RUB,Ivan Petrov,,tok_ivan",  // a repeat of E-1
		"E-3,token,2500.00,RUB,Anna Petrova,,tok_anna", // anna's payout under another reference
		"C-1,card,700.00,RUB,Oleg Sidorov,4242424242424242,",
		"C-2,card,700.00,RUB,Oleg Sidorov,4242 4242 4242 4242,", // the same card and amount in this file
		"C-3,card,700.00,RUB,Oleg Sidorov,5555555555554444,")
	var shown []batch.Error
	opts := Options{Batch: batch.Options{OnWarning: func(e batch.Error) { shown = append(shown, e) }}}
	check, err := Check(corrected, opts)
	require.NoError(t, err)
	require.Equal(t, StatusValid, check.Status)

	for name, led := range map[string]Prechecker{"in process": svc, "over NATS": ledgerapi.NewClient(e.nc, 5*time.Second)} {
		t.Run(name, func(t *testing.T) {
			shown = nil
			res := *check
			res.Warnings, res.WarningCount = nil, 0
			require.NoError(t, CheckDuplicates(ctx, File(corrected), &res, opts, led, ""))
			require.Equal(t, CrossFileChecked, res.CrossFileCheck)
			require.Equal(t, 3, res.WarningCount)
			require.Equal(t, res.Warnings, shown, "every warning is shown as it is found")
			w := res.Warnings
			require.Equal(t, 2, w[0].Line)
			require.Equal(t, "warning: E-1 is in flight in batch "+paid.Batch+" row 1 (queued, not paid yet) (the ledger holds this row until a person releases it)", w[0].Message)
			require.Equal(t, 3, w[1].Line)
			require.Contains(t, w[1].Message, "probable duplicate: the same card token and amount 2500.00 RUB as E-2")
			require.Equal(t, 5, w[2].Line)
			require.Equal(t, "warning: probable duplicate of line 4 (C-1): the same card and amount 700.00 RUB under another reference; the ledger holds this row until a person releases it", w[2].Message)
			for _, x := range w {
				require.NotContains(t, x.Message, "4242424242424242")
			}
		})
	}

	// The same over HTTP: POST /batches/validate.
	body, err := os.ReadFile(corrected)
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	NewHandler(HandlerConfig{Ledger: svc, TempDir: t.TempDir(), Logger: testutil.QuietLogger()}).ServeHTTP(rec,
		httptest.NewRequest(http.MethodPost, "/batches/validate?file_name=fixed.csv", bytes.NewReader(body)))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var answer Result
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &answer))
	require.Equal(t, CrossFileChecked, answer.CrossFileCheck)
	require.Equal(t, 3, answer.WarningCount)
	require.Contains(t, answer.Warnings[0].Message, "E-1 is in flight in batch "+paid.Batch)

	// Without a ledger only the file is checked, and the result says so.
	res2 := *check
	res2.Warnings, res2.WarningCount = nil, 0
	require.NoError(t, CheckDuplicates(ctx, File(corrected), &res2, Options{}, nil, ""))
	require.Equal(t, 1, res2.WarningCount)
	require.Equal(t, "not run: no ledger to ask; only this file was checked", res2.CrossFileCheck)

	// A ledger that does not answer: the same.
	e.nc.Close()
	res3 := *check
	res3.Warnings, res3.WarningCount = nil, 0
	require.NoError(t, CheckDuplicates(ctx, File(corrected), &res3, Options{}, ledgerapi.NewClient(e.nc, time.Second), ""))
	require.Equal(t, 1, res3.WarningCount)
	require.True(t, strings.HasPrefix(res3.CrossFileCheck, "not run: the ledger did not answer"), res3.CrossFileCheck)
}
