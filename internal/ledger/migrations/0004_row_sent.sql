-- rows.sent_at: when a processor last recorded that the call of the row's
-- opening intent was about to leave (Transition.Sending). A single-request
-- payout cannot be stopped once sent, so a cancelled batch cancels a row
-- at opening only if nothing was ever about to be sent ('' = never).
ALTER TABLE rows ADD COLUMN sent_at TEXT NOT NULL DEFAULT '';
