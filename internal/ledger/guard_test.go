package ledger

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reconcile"
)

func tokenRow(ref string, minor int64, token string) *payout.Row {
	return &payout.Row{Reference: ref, Method: payout.MethodToken, Amount: money.New(minor, "RUB"), FullName: "Anna Petrova", CardToken: token}
}

func cardRow(ref string, minor int64, fingerprint string) *payout.Row {
	return &payout.Row{Reference: ref, Method: payout.MethodCard, Amount: money.New(minor, "RUB"), FullName: "Ivan Petrov",
		Card: &payout.Card{Sealed: "c2VhbGVk", BIN: "424242", Last4: "4242", Fingerprint: fingerprint}}
}

func ibanRow(ref string, minor int64, iban string) *payout.Row {
	return &payout.Row{Reference: ref, Method: payout.MethodTransfer, Amount: money.New(minor, "TRY"),
		Transfer: &payout.Transfer{Country: "TUR", Type: payout.TransferIBAN, IBAN: iban, SenderCardToken: "tok_sender",
			RecipientFirstName: "Mehmet", RecipientLastName: "Yilmaz"}}
}

// setStates moves every row of a batch to st directly (what a finished
// run of the processor would have left).
func setStates(t *testing.T, s *Service, batch string, st payout.State) {
	t.Helper()
	require.NoError(t, s.w.Do(context.Background(), func(tx *Tx) error {
		_, err := tx.Exec(`UPDATE rows SET state = ?, moved_at = ? WHERE batch_id = ?`, string(st), formatTime(tx.Now), batch)
		return err
	}))
}

func holdsOf(t *testing.T, s *Service, batch string) map[int]Hold {
	t.Helper()
	list, err := s.db.Holds(context.Background(), batch, 0)
	require.NoError(t, err)
	out := map[int]Hold{}
	for _, h := range list {
		out[h.Row] = h
	}
	return out
}

// The corrected re-export: the same payroll again with one amount changed
// is a new batch, and every reference in it that was paid is held, named
// with the batch and row that paid it. The rest goes on.
func TestGuardHoldsRepeatsOfPaidRows(t *testing.T) {
	s, c := newService(t)
	a := makeBatch(5, "payroll")
	record(t, s, a.msgs(1))
	setStates(t, s, a.ID, payout.StateSucceeded)
	require.NoError(t, s.w.Do(context.Background(), func(tx *Tx) error {
		_, err := tx.Exec(`UPDATE rows SET state = 'failed' WHERE batch_id = ? AND row_no = 5`, a.ID)
		return err
	}))
	c.Add(6 * 24 * time.Hour)

	b := makeBatch(5, "payroll corrected")
	b.Rows[2].Amount.Minor++ // one amount changed by 0.01: a new batch
	b = makeRows("payroll corrected", b.Rows)
	res := record(t, s, b.msgs(100))
	require.Equal(t, []string{b.ID}, res.Accepted)

	sum := summary(t, s.db, b.ID)
	require.Equal(t, payout.BatchScheduled, sum.Status, "the rest of the batch goes on")
	require.Equal(t, 4, sum.Held, "rows 1-4 were paid; row 5 failed and may be paid")
	h := holdsOf(t, s, b.ID)
	require.Len(t, h, 4)
	require.Equal(t, HoldRepeat, h[1].Kind)
	require.Equal(t, a.ID, h[1].EarlierBatch)
	require.Equal(t, 1, h[1].EarlierRow)
	require.Equal(t, "E-00001 was paid on 2026-11-25 in batch "+a.ID+" row 1", h[1].Reason)
	require.Equal(t, h[1].Reason, mustRow(t, s, b.ID, 1).Reason)
	require.Empty(t, h[5].Kind)

	// Released: only row 5 is queued; the held rows stay received.
	require.NoError(t, s.ReleaseDue(context.Background()))
	for n := 1; n <= 4; n++ {
		require.Equal(t, payout.StateReceived, mustRow(t, s, b.ID, n).State, "row %d", n)
	}
	require.Equal(t, payout.StateQueued, mustRow(t, s, b.ID, 5).State)
	exc, err := s.db.Exceptions(b.ID, false)
	require.NoError(t, err)
	require.Len(t, exc, 1)
	require.Equal(t, reconcile.HeldRows, exc[0].Category)

	// A person releases one held row: exactly that row is paid; another
	// is dropped. Both decisions are recorded with who and why.
	require.NoError(t, s.ReleaseHeld(context.Background(), ledgerapi.RowCommand{Batch: b.ID, Row: 3, By: "anna", Reason: "the corrected amount"}))
	require.NoError(t, s.DropHeld(context.Background(), ledgerapi.RowCommand{Batch: b.ID, Row: 4, By: "anna", Reason: "paid in November"}))
	r3 := mustRow(t, s, b.ID, 3)
	require.Equal(t, payout.StateQueued, r3.State)
	require.Empty(t, r3.Reason)
	require.Equal(t, payout.StateCancelled, mustRow(t, s, b.ID, 4).State)
	require.Equal(t, "held_dropped", mustRow(t, s, b.ID, 4).ErrorCode)
	for _, n := range []int{1, 2} {
		require.Equal(t, payout.StateReceived, mustRow(t, s, b.ID, n).State)
	}
	h = holdsOf(t, s, b.ID)
	require.Equal(t, "released", h[3].Decision)
	require.Equal(t, "anna", h[3].DecidedBy)
	require.Equal(t, "the corrected amount", h[3].DecisionReason)
	require.Equal(t, "dropped", h[4].Decision)
	require.Equal(t, 2, summary(t, s.db, b.ID).Held)
	dec, err := s.db.Decisions(context.Background(), b.ID)
	require.NoError(t, err)
	require.Len(t, dec, 2)
	require.Equal(t, ActionRelease, dec[0].Action)
	require.Equal(t, 3, dec[0].Row)

	// The same decision again changes nothing; the other one is refused.
	require.NoError(t, s.ReleaseHeld(context.Background(), ledgerapi.RowCommand{Batch: b.ID, Row: 3, By: "anna", Reason: "again"}))
	err = s.DropHeld(context.Background(), ledgerapi.RowCommand{Batch: b.ID, Row: 3, By: "anna", Reason: "changed my mind"})
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeInvalid), "%v", err)
	err = s.ReleaseHeld(context.Background(), ledgerapi.RowCommand{Batch: b.ID, Row: 5, By: "anna", Reason: "x"})
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeInvalid), "row 5 was never held: %v", err)
	err = s.ReleaseHeld(context.Background(), ledgerapi.RowCommand{Batch: b.ID, Row: 1, By: "anna"})
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeInvalid), "a reason is required: %v", err)

	// The report shows why each row was held and who decided what.
	rep, err := s.db.Report(context.Background(), b.ID)
	require.NoError(t, err)
	require.Equal(t, "held: E-00003 was paid on 2026-11-25 in batch "+a.ID+" row 3", rep.Rows[2].Held)
	require.Equal(t, "released by anna: the corrected amount", rep.Rows[2].Decision)
	require.Equal(t, "dropped by anna: paid in November", rep.Rows[3].Decision)
	require.Empty(t, rep.Rows[1].Decision)
	require.Empty(t, rep.Rows[4].Held)
	var csv strings.Builder
	require.NoError(t, rep.Write(&csv, "csv"))
	require.Contains(t, csv.String(), ",held: E-00003 was paid on 2026-11-25 in batch "+a.ID+" row 3,released by anna: the corrected amount,,")

	// The last decisions close the exception; the batch can finish.
	for _, n := range []int{1, 2} {
		require.NoError(t, s.DropHeld(context.Background(), ledgerapi.RowCommand{Batch: b.ID, Row: n, By: "anna", Reason: "paid"}))
	}
	exc, err = s.db.Exceptions(b.ID, false)
	require.NoError(t, err)
	require.Empty(t, exc)
	ok, err := s.db.HasHeldRows(context.Background(), b.ID)
	require.NoError(t, err)
	require.False(t, ok)
}

func TestGuardRepeatsInFlightAndWhatDoesNotCount(t *testing.T) {
	tests := []struct {
		name    string
		earlier payout.State
		reject  bool
		after   time.Duration
		held    bool
		reason  string
	}{
		{name: "received in a scheduled batch", earlier: payout.StateReceived, held: true, reason: "is in flight in batch %s row 1 (received, not paid yet)"},
		{name: "waiting at the bank", earlier: payout.StatePayoutStarted, held: true, reason: "is in flight in batch %s row 1 (payout_started, not paid yet)"},
		{name: "in doubt", earlier: payout.StateInDoubt, held: true},
		{name: "failed", earlier: payout.StateFailed},
		{name: "cancelled", earlier: payout.StateCancelled},
		{name: "returned", earlier: payout.StateReturned},
		{name: "rejected batch", earlier: payout.StateReceived, reject: true},
		{name: "paid within the retention", earlier: payout.StateSucceeded, after: 399 * 24 * time.Hour, held: true},
		{name: "paid before the retention", earlier: payout.StateSucceeded, after: 401 * 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := newService(t)
			a := makeBatch(2, "a")
			if tt.reject {
				a.Manifest.Rows = 3
			}
			record(t, s, a.msgs(1))
			require.NoError(t, s.w.Do(context.Background(), func(tx *Tx) error {
				_, err := tx.Exec(`UPDATE rows SET state = ? WHERE batch_id = ? AND row_no = 1`, string(tt.earlier), a.ID)
				return err
			}))
			c.Add(tt.after)
			b := makeRows("b", []*payout.Row{makeBatch(1, "x").Rows[0]})
			record(t, s, b.msgs(10))
			h := holdsOf(t, s, b.ID)
			if !tt.held {
				require.Empty(t, h)
				return
			}
			require.Len(t, h, 1)
			if tt.reason != "" {
				require.Equal(t, "E-00001 "+strings.ReplaceAll(tt.reason, "%s", a.ID), h[1].Reason)
			}
		})
	}
}

// Probable duplicates: the same payee (token, widget hash, IBAN, card
// fingerprint) and amount under another reference within the window,
// across batches and inside one file.
func TestGuardProbableDuplicates(t *testing.T) {
	fp := strings.Repeat("ab", 16) // a fingerprint is 16 bytes (secret.FingerprintSize)
	tests := []struct {
		name   string
		first  *payout.Row
		second *payout.Row
		after  time.Duration
		held   bool
		noun   string
	}{
		{"same token and amount", tokenRow("T-1", 50000, "tok_a"), tokenRow("T-2", 50000, "tok_a"), 0, true, "card token"},
		{"another amount", tokenRow("T-1", 50000, "tok_a"), tokenRow("T-2", 50001, "tok_a"), 0, false, ""},
		{"another token", tokenRow("T-1", 50000, "tok_a"), tokenRow("T-2", 50000, "tok_b"), 0, false, ""},
		{"same reference is a repeat, not a duplicate", tokenRow("T-1", 50000, "tok_a"), tokenRow("T-1", 50000, "tok_a"), 0, true, ""},
		{"within the window", tokenRow("T-1", 50000, "tok_a"), tokenRow("T-2", 50000, "tok_a"), 34 * 24 * time.Hour, true, "card token"},
		{"past the window", tokenRow("T-1", 50000, "tok_a"), tokenRow("T-2", 50000, "tok_a"), 36 * 24 * time.Hour, false, "card token"},
		{"card fingerprint", cardRow("C-1", 70000, fp), cardRow("C-2", 70000, strings.ToUpper(fp)), 0, true, "card"},
		{"card without a fingerprint", cardRow("C-1", 70000, ""), cardRow("C-2", 70000, ""), 0, false, ""},
		{"IBAN with spaces", ibanRow("I-1", 90000, "TR33 0006 1005 1978 6457 8413 26"), ibanRow("I-2", 90000, "TR330006100519786457841326"), 0, true, "IBAN"},
	}
	for _, tt := range tests {
		for _, oneFile := range []bool{false, true} {
			name := tt.name + "/across batches"
			if oneFile {
				name = tt.name + "/inside one file"
				if tt.first.Reference == tt.second.Reference {
					continue // references are unique in a file
				}
			}
			t.Run(name, func(t *testing.T) {
				s, c := newService(t)
				first, second := *tt.first, *tt.second
				var b *testBatch
				if oneFile {
					b = makeRows("one", []*payout.Row{&first, &second})
					c.Add(tt.after) // no effect: one file
					record(t, s, b.msgs(1))
				} else {
					a := makeRows("a", []*payout.Row{&first})
					record(t, s, a.msgs(1))
					setStates(t, s, a.ID, payout.StateSucceeded)
					c.Add(tt.after)
					b = makeRows("b", []*payout.Row{&second})
					record(t, s, b.msgs(10))
				}
				h := holdsOf(t, s, b.ID)
				held := tt.held || oneFile && tt.after > 0 // one file has no time between its rows
				if !held {
					require.Empty(t, h)
					return
				}
				row := 1
				if oneFile {
					row = 2
				}
				require.Len(t, h, 1)
				got := h[row]
				if tt.noun == "" {
					require.Equal(t, HoldRepeat, got.Kind)
					return
				}
				require.Equal(t, HoldDuplicate, got.Kind)
				require.Contains(t, got.Reason, "probable duplicate: the same "+tt.noun+" ")
				require.Contains(t, got.Reason, first.Reference)
				if oneFile {
					require.Contains(t, got.Reason, "in this batch, row 1")
				} else {
					require.Contains(t, got.Reason, "was paid "+first.Amount.String()+" as "+first.Reference+" on ")
				}
			})
		}
	}
}

// Two batches carrying one reference, their rows interleaved in one intake
// group: exactly one of the two is held, the one the stream has later.
func TestGuardInterleavedBatchesHoldExactlyOne(t *testing.T) {
	s, _ := newService(t)
	a := makeRows("a", []*payout.Row{tokenRow("R-1", 100, "tok_1"), tokenRow("R-2", 200, "tok_2")})
	b := makeRows("b", []*payout.Row{tokenRow("R-2", 201, "tok_9"), tokenRow("R-1", 101, "tok_8")})
	am, bm := a.msgs(1), b.msgs(10)
	msgs := []intakeMsg{am[0], bm[0], bm[1], am[1], am[2], bm[2]}
	for i := range msgs {
		msgs[i].Seq = uint64(i + 1) // the stream's order
	}
	record(t, s, msgs)
	ha, hb := holdsOf(t, s, a.ID), holdsOf(t, s, b.ID)
	require.Len(t, ha, 1, "a's R-2 came after b's")
	require.Equal(t, b.ID, ha[2].EarlierBatch)
	require.Len(t, hb, 1, "b's R-1 came after a's")
	require.Equal(t, a.ID, hb[2].EarlierBatch)
	require.Equal(t, 1, hb[2].EarlierRow)
}

func TestGuardHeldNeedApproval(t *testing.T) {
	c := newClock()
	db := openDB(t, t.TempDir(), c)
	cfg := testConfig()
	cfg.HeldNeedApproval = true
	s := NewService(db, cfg)
	t.Cleanup(func() { s.Close(); db.Close() })
	noApprovals(t, s)
	_, carol, _ := people(t, s)
	a := makeBatch(2, "a")
	record(t, s, a.msgs(1))
	require.Equal(t, payout.BatchScheduled, summary(t, db, a.ID).Status, "no held rows, no approval")
	b := makeBatch(2, "b")
	record(t, s, b.msgs(10))
	require.Equal(t, payout.BatchAwaitingApproval, summary(t, db, b.ID).Status)
	_, err := approve(s, carol, summary(t, db, b.ID))
	require.NoError(t, err)
	require.NoError(t, s.ReleaseDue(context.Background()))
	require.Equal(t, payout.StateReceived, mustRow(t, s, b.ID, 1).State, "approving the batch releases no held row")
	require.NoError(t, s.ReleaseHeld(context.Background(), ledgerapi.RowCommand{Batch: b.ID, Row: 1, By: "boss", Reason: "ok"}))
	require.Equal(t, payout.StateQueued, mustRow(t, s, b.ID, 1).State)
}

// Cancelling a batch drops its held rows with it.
func TestGuardCancelledBatchDropsHeldRows(t *testing.T) {
	s, _ := newService(t)
	a := makeBatch(2, "a")
	record(t, s, a.msgs(1))
	b := makeBatch(2, "b")
	record(t, s, b.msgs(10))
	require.NoError(t, s.Cancel(context.Background(), ledgerapi.BatchCommand{Batch: b.ID, By: "anna", Reason: "wrong file"}))
	sum := summary(t, s.db, b.ID)
	require.Zero(t, sum.Held)
	require.Equal(t, 2, sum.ByState[payout.StateCancelled])
	for _, h := range holdsOf(t, s, b.ID) {
		require.Equal(t, "dropped", h.Decision)
		require.Equal(t, "anna", h.DecidedBy)
	}
	exc, err := s.db.Exceptions(b.ID, false)
	require.NoError(t, err)
	require.Empty(t, exc)
}

// Precheck tells ingest, before an upload, what the guard would hold; in
// process and over NATS alike, recording nothing.
func TestPrecheck(t *testing.T) {
	env := startNATS(t)
	c := newClock()
	db := openDB(t, t.TempDir(), c)
	s := startService(t, db, env, testConfig())
	a := makeRows("a", []*payout.Row{tokenRow("T-1", 50000, "tok_a"), tokenRow("T-2", 60000, "tok_b")})
	record(t, s, a.msgs(1))
	setStates(t, s, a.ID, payout.StateSucceeded)
	key := func(token string) string {
		k, _ := payout.PayeeKeyOf(payout.PayeeToken, token)
		return k.String()
	}
	req := ledgerapi.PrecheckRequest{Batch: "b00000000000000000000", Rows: []ledgerapi.PrecheckRow{
		{Line: 2, Reference: "T-1", Payee: key("tok_z"), Amount: money.New(1, "RUB")},
		{Line: 3, Reference: "T-9", Payee: key("tok_b"), Amount: money.New(60000, "rub")},
		{Line: 4, Reference: "T-8", Payee: key("tok_b"), Amount: money.New(60001, "RUB")},
		{Line: 5, Reference: "T-7"},
	}}
	client := ledgerapi.NewClient(env.nc, 5*time.Second)
	for name, check := range map[string]func(context.Context, ledgerapi.PrecheckRequest) (*ledgerapi.PrecheckReply, error){
		"in process": s.Precheck, "over NATS": client.Precheck,
	} {
		t.Run(name, func(t *testing.T) {
			reply, err := check(context.Background(), req)
			require.NoError(t, err)
			require.Equal(t, []ledgerapi.PrecheckHit{
				{Line: 2, Kind: HoldRepeat, EarlierBatch: a.ID, EarlierRow: 1, Reason: "T-1 was paid on 2026-11-25 in batch " + a.ID + " row 1"},
				{Line: 3, Kind: HoldDuplicate, EarlierBatch: a.ID, EarlierRow: 2,
					Reason: "probable duplicate: the same card token was paid 600.00 RUB as T-2 on 2026-11-25 in batch " + a.ID + " row 2"},
			}, reply.Hits)

			// The same file again is no repeat of itself.
			same := req
			same.Batch = a.ID
			reply, err = check(context.Background(), same)
			require.NoError(t, err)
			require.Empty(t, reply.Hits)

			_, err = check(context.Background(), ledgerapi.PrecheckRequest{Rows: []ledgerapi.PrecheckRow{{Line: 2, Reference: "x", Payee: "zz"}}})
			require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeInvalid), "%v", err)
		})
	}
	h, err := db.Holds(context.Background(), a.ID, 0)
	require.NoError(t, err)
	require.Empty(t, h, "nothing recorded")
}
