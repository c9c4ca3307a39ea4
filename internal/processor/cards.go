package processor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/ratelimit"
)

// The card behind a token. A token or widget row's destination is the
// token's own tail ("token …ad44"); the bank's token/info tells the card's
// last four "in order to show the user the payment destination" (seed
// 000; seed 002). It moves no money, so it is asked only once the bank's
// final word on the payout is recorded: never in front of a payout's
// fenced call, where it would take the limiter's turns that calls opening
// work wait for (a cancel must find them still waiting, e2e
// TestCancelStopsCallsWaitingInTheLimiter). The webhook handler queues the
// row (cardFills); one worker per processor asks token/info through the
// same limiter at low priority and records the answer, passed through the
// one card masker (cardmask.LastFour), as a repeat of the row's final
// state (Transition.CardLast4). Best effort: no answer, a full queue or a
// processor stopping leaves the row showing its token only.

// cardFillQueue bounds the rows waiting for their token/info.
const cardFillQueue = 1024

// cardFill is a finished row whose card to ask about.
type cardFill struct {
	batch string
	row   int
}

// wantsCard reports whether the row's card is worth asking about: a token
// or widget row that finished at the bank and whose last four the ledger
// does not know (a recipient link's card came with them).
func wantsCard(st *ledgerapi.RowState) bool {
	switch {
	case st.Method != payout.MethodToken && st.Method != payout.MethodEncryptedCard:
		return false
	case st.Card != nil: // captured through a recipient link: token/info was asked then
		return false
	}
	return st.State == payout.StateSucceeded || st.State == payout.StateFailed
}

// queueCardFill queues a finished row for its token/info; a full queue
// drops it (the row shows its token only), with a warning at most every
// dropLogEvery that counts the rows dropped: one per row was 8 137 lines
// for a 10 000-row batch (payoutbench -run procs).
func (p *Processor) queueCardFill(st *ledgerapi.RowState) {
	if !wantsCard(st) {
		return
	}
	select {
	case p.fills <- cardFill{batch: st.Batch, row: st.Row}:
		return
	default:
	}
	p.dropped.Add(1)
	now := time.Now().UnixNano()
	if last := p.dropLogged.Load(); now-last >= int64(dropLogEvery) && p.dropLogged.CompareAndSwap(last, now) {
		n := p.dropped.Swap(0)
		p.log.Warn("token/info queue full; rows show their token only", "rows", n, logkey.Batch, st.Batch, logkey.Row, st.Row)
	}
}

// dropLogEvery spaces the warnings of a full token/info queue.
const dropLogEvery = 10 * time.Second

// fillCards asks token/info for the queued rows until stop ends; work
// bounds each call (the processor's work context).
func (p *Processor) fillCards(stop, work context.Context) {
	for {
		select {
		case <-stop.Done():
			if n := len(p.fills); n > 0 {
				p.log.Info("processor stopping: rows left without their card's last four", "rows", n)
			}
			return
		case f := <-p.fills:
			if err := p.fillCard(work, f); err != nil {
				p.log.Info("token/info not recorded; the row shows its token only", logkey.Batch, f.batch, logkey.Row, f.row,
					logkey.Error, cardmask.Redact(err.Error()))
			}
		}
	}
}

// fillCard asks token/info about one finished row's token (or widget
// card) and records its last four.
func (p *Processor) fillCard(ctx context.Context, f cardFill) error {
	st, err := p.ledger.Get(ctx, ledgerapi.RowRequest{Batch: f.batch, Row: f.row})
	if err != nil {
		return fmt.Errorf("read row: %w", err)
	}
	if !wantsCard(st) {
		return nil
	}
	row, err := p.loadRow(ctx, st)
	if err != nil {
		return err
	}
	var req bank131.TokenInfoRequest
	switch {
	case row.Method == payout.MethodToken && row.CardToken != "":
		req = bank131.CardTokenInfo(row.CardToken)
	case row.Method == payout.MethodEncryptedCard && row.Encrypted != nil && row.Encrypted.NumberHash != "":
		req = bank131.EncryptedCardInfo(row.Encrypted.NumberHash)
	default:
		return nil
	}
	var resp *bank131.TokenInfoResponse
	class, err := p.call(ctx, "token/info", ratelimit.Low, func(ctx context.Context) (err error) {
		resp, err = p.bankFor(false).TokenInfo(ctx, req)
		return err
	})
	if class != bank131.ClassOK {
		return fmt.Errorf("token/info: %w", err)
	}
	last4 := cardmask.LastFour(resp.Info.Last4)
	if last4 == "" {
		return errors.New("token/info named no last four digits")
	}
	_, err = p.ledger.Transition(ctx, ledgerapi.Transition{Batch: st.Batch, Row: st.Row, To: st.State, Expect: []payout.State{st.State},
		CardLast4: last4, Worker: p.cfg.Worker,
		Evidence: ledgerapi.Evidence{Source: ledgerapi.SourceProcessor, Detail: "token/info: card …" + last4}})
	if err != nil {
		return fmt.Errorf("record the card's last four: %w", err)
	}
	return nil
}
