package ledger

import (
	"context"
	"errors"
	"time"

	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/payout"
)

// runReleaser releases due batches: on a ticker (so a schedule survives
// restarts of every process: it lives in SQLite only) and when intake or
// an approval wakes it.
func (s *Service) runReleaser(ctx context.Context) {
	tick := time.NewTicker(s.cfg.ReleaseInterval)
	defer tick.Stop()
	checked := map[string]time.Time{} // batches waiting for funds: last wallet check
	for {
		s.recheckWallets(ctx, checked)
		if err := s.ExpireApprovals(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("expire approvals", logkey.Error, err)
		}
		if err := s.ReleaseDue(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("release", logkey.Error, err)
		}
		if _, err := s.ExpireCardWaits(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("expire card waits", logkey.Error, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-s.release:
		}
	}
}

// ReleaseDue releases every batch that is due now (schedule_at reached,
// approved if it must be, not cancelled), in chunks of ReleaseChunk rows:
// each row moves to queued with the next gen, and the publisher sends its
// pay job after the commit. It returns how many rows it released.
func (s *Service) ReleaseDue(ctx context.Context) error {
	var due []string
	if err := s.w.Do(ctx, func(tx *Tx) error {
		var err error
		due, err = dueBatches(tx)
		return err
	}); err != nil {
		return err
	}
	for _, b := range due {
		total := 0
		var needed need
		if s.cfg.Wallet != nil {
			var err error
			if needed, err = s.batchNeed(b); err != nil {
				return err
			}
		}
		for done := false; !done; {
			if needed != nil {
				// The wallet before every chunk: another batch, or the
				// bank's own payouts, may have taken it meanwhile.
				ok, err := s.checkRelease(ctx, b, needed)
				if err != nil {
					s.log.Error("wallet check before release; the batch waits for the next try", logkey.Batch, b, logkey.Error, err)
					break
				}
				if !ok {
					break
				}
			}
			var n int
			err := s.w.Do(ctx, func(tx *Tx) error {
				// Before its first release: sessions the bank named for its
				// rows while the ledger lacked them (orphan.go).
				if st, _, err := batchStatus(tx, b); err != nil {
					return err
				} else if st == payout.BatchScheduled {
					if _, err := s.adoptNamed(tx, b); err != nil {
						return err
					}
				}
				var err error
				n, done, err = releaseChunk(tx, b, s.cfg.ReleaseChunk)
				return err
			})
			if errors.Is(err, errNotApproved) {
				// Scheduled without the approvals its policy asked for: only
				// a change made around the ledger does that. Never released.
				s.log.Error("release refused", logkey.Batch, b, logkey.Error, err)
				break
			}
			if err != nil {
				return err
			}
			total += n
			wake(s.kick)
		}
		s.log.Info("batch released", logkey.Batch, b, "rows", total)
	}
	return nil
}

// Cancel cancels a batch: rows not at the bank become cancelled; rows with
// a live session get a poll job, so a processor asks session/status and the
// gate cancels them at the bank. It is the in-process command (payrun's
// own components, tests); a person cancels through CancelAs, which checks
// their role and writes the audit log.
func (s *Service) Cancel(ctx context.Context, cmd ledgerapi.BatchCommand) error {
	if err := checkReason(cmd.Reason); err != nil {
		return err
	}
	var live int
	err := s.w.Do(ctx, func(tx *Tx) error {
		rows, err := cancelBatch(tx, cmd)
		if err != nil {
			return err
		}
		live = len(rows)
		var jobs []ledgerapi.Job
		var ids []string
		for _, r := range rows {
			j, id, err := s.schedulePoll(tx, r)
			if err != nil {
				return err
			}
			jobs, ids = append(jobs, j), append(ids, id)
		}
		tx.After(func() {
			s.publishPolls(jobs, ids)
			wake(s.kick) // the pay jobs of rows that were opening
		})
		return nil
	})
	if err != nil {
		return err
	}
	s.log.Info("batch cancelled", logkey.Batch, cmd.Batch, "by", cardmask.Redact(cmd.By), "reason", cardmask.Redact(cmd.Reason),
		"live_sessions", live)
	return nil
}
