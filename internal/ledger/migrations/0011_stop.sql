-- Stopping exactly where asked (issue 11): one row cancelled, a row or a
-- batch on hold, and the per-batch circuit breaker.

-- rows.stop: '' | hold (nothing new starts for the row until it is
-- resumed) | cancel (a person cancelled the row; it settles as the rows of
-- a cancelled batch do).
ALTER TABLE rows ADD COLUMN stop TEXT NOT NULL DEFAULT '';
ALTER TABLE rows ADD COLUMN stop_by TEXT NOT NULL DEFAULT '';
ALTER TABLE rows ADD COLUMN stop_reason TEXT NOT NULL DEFAULT '';

-- batches.hold_*: a batch on hold (hold_source operator or breaker):
-- nothing new starts, sessions at ready_to_confirm wait, until resumed.
ALTER TABLE batches ADD COLUMN hold_source TEXT NOT NULL DEFAULT '';  -- '' | operator | breaker
ALTER TABLE batches ADD COLUMN hold_by TEXT NOT NULL DEFAULT '';
ALTER TABLE batches ADD COLUMN hold_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE batches ADD COLUMN hold_at TEXT;
-- batches.finished_n counts the rows that finished (succeeded or failed),
-- the breaker's clock: finished row n takes slot n % window.
ALTER TABLE batches ADD COLUMN finished_n INTEGER NOT NULL DEFAULT 0;

-- breaker_window: the last rows of a batch that finished, by slot: the
-- bank's error code of a failure, '' for a success.
CREATE TABLE breaker_window (
    batch_id TEXT NOT NULL,
    slot     INTEGER NOT NULL,
    code     TEXT NOT NULL,
    PRIMARY KEY (batch_id, slot)
) STRICT, WITHOUT ROWID;

-- gate_checks.hook_seq: the webhook's sequence in PAYRUN_HOOKS, so a
-- session the gate told to wait is asked about again with that webhook.
ALTER TABLE gate_checks ADD COLUMN hook_seq INTEGER NOT NULL DEFAULT 0;
