-- rows.sent_at: when a processor last recorded that the call of the row's
-- opening intent was about to leave (Transition.Sending), or that the
-- attempt's start was sent again after it never reached its session. A
-- single-request payout cannot be stopped once sent, so a cancelled batch
-- cancels a row at opening only if nothing was ever about to be sent
-- ('' = never). rows.resends counts the starts sent again in the attempt
-- (at most ledger.maxStartResends). A new attempt clears both.
ALTER TABLE rows ADD COLUMN sent_at TEXT NOT NULL DEFAULT '';
ALTER TABLE rows ADD COLUMN resends INTEGER NOT NULL DEFAULT 0;
