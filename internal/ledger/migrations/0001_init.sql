-- The ledger's schema: the system of record of every batch and row, every
-- state transition with its evidence, the bank's webhooks, quotes, gate
-- decisions, sessions and exceptions. Money is integer minor units with a
-- currency column; times are UTC text in one fixed-width format (see
-- ledger.formatTime), so text order is time order.

-- batches: one per batch id, created by its first row or its manifest.
CREATE TABLE batches (
    id               TEXT PRIMARY KEY,
    status           TEXT NOT NULL,              -- payout.BatchStatus
    reason           TEXT NOT NULL DEFAULT '',   -- why rejected or cancelled
    name             TEXT NOT NULL DEFAULT '',
    file_name        TEXT NOT NULL DEFAULT '',
    file_sha256      TEXT NOT NULL DEFAULT '',
    manifest_rows    INTEGER,                    -- NULL until the manifest arrived
    manifest_totals  TEXT,                       -- JSON {"RUB": minor, ...}
    manifest_digest  TEXT,
    manifest_seq     INTEGER,                    -- the manifest's PAYRUN_INTAKE sequence
    manifest_json    TEXT,                       -- the manifest as received
    schedule_at      TEXT,
    require_approval INTEGER NOT NULL DEFAULT 0,
    approved_by      TEXT NOT NULL DEFAULT '',
    approved_at      TEXT,
    cancelled_by     TEXT NOT NULL DEFAULT '',
    cancelled_at     TEXT,
    created_at       TEXT,                       -- the manifest's created_at (ingest)
    first_seen_at    TEXT NOT NULL,              -- when the ledger saw the batch first
    accepted_at      TEXT,                       -- manifest matched
    released_at      TEXT,
    release_done     INTEGER NOT NULL DEFAULT 0, -- every row was moved to queued (release runs in chunks)
    finished_at      TEXT,                       -- every row terminal
    rows_recorded    INTEGER NOT NULL DEFAULT 0,
    rows_terminal    INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX batches_status ON batches (status);

-- rows: one per CSV row, with the intake evidence and the current state.
CREATE TABLE rows (
    batch_id        TEXT NOT NULL REFERENCES batches (id),
    row_no          INTEGER NOT NULL,
    line            INTEGER NOT NULL DEFAULT 0,
    reference       TEXT NOT NULL,
    method          TEXT NOT NULL,
    amount_minor    INTEGER NOT NULL,
    currency        TEXT NOT NULL,
    recipient       TEXT NOT NULL DEFAULT '',
    destination     TEXT NOT NULL DEFAULT '',    -- masked: payout.Row.Destination()
    bin             TEXT NOT NULL DEFAULT '',    -- card rows: first six digits only
    last4           TEXT NOT NULL DEFAULT '',    -- card rows: last four digits only
    dest_hash       TEXT NOT NULL DEFAULT '',    -- sha256 of a token/IBAN/card hash, for the gate; never a card number
    meta            TEXT NOT NULL DEFAULT '',    -- JSON of the meta_ columns
    intake_seq      INTEGER NOT NULL,
    digest          BLOB NOT NULL,               -- sha256 of the intake message data
    received_at     TEXT NOT NULL,
    state           TEXT NOT NULL,               -- payout.State
    gen             INTEGER NOT NULL DEFAULT 0,  -- release generation
    job_gen         INTEGER NOT NULL DEFAULT 0,  -- highest gen whose job JetStream acknowledged
    attempt         INTEGER NOT NULL DEFAULT 0,  -- bank attempt
    session_id      TEXT NOT NULL DEFAULT '',
    confirm_session TEXT NOT NULL DEFAULT '',
    payout_id       TEXT NOT NULL DEFAULT '',
    idem_key        TEXT NOT NULL DEFAULT '',
    worker          TEXT NOT NULL DEFAULT '',
    quote_id        INTEGER,
    error_code      TEXT NOT NULL DEFAULT '',
    reason          TEXT NOT NULL DEFAULT '',
    action_url      TEXT NOT NULL DEFAULT '',
    tcn             TEXT NOT NULL DEFAULT '',
    fee_minor       INTEGER,
    fee_currency    TEXT NOT NULL DEFAULT '',
    paid_minor      INTEGER,
    paid_currency   TEXT NOT NULL DEFAULT '',
    moved_at        TEXT NOT NULL,               -- last transition or re-enqueue (the sweeper's clock)
    polls           INTEGER NOT NULL DEFAULT 0,  -- poll jobs since the row last moved
    next_poll_at    TEXT,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (batch_id, row_no)
) STRICT, WITHOUT ROWID;

-- Rows the sweeper watches (live states only, so intake does not pay for it).
CREATE INDEX rows_live ON rows (moved_at)
    WHERE state IN ('queued', 'claimed', 'quoted', 'opening', 'session_open', 'starting',
                    'payout_started', 'confirming', 'confirmed', 'action_required', 'in_doubt');
-- Rows whose current job JetStream has not acknowledged yet.
CREATE INDEX rows_unpublished ON rows (batch_id, row_no) WHERE job_gen < gen;

-- row_conflicts: a row message whose data differs from the recorded row.
CREATE TABLE row_conflicts (
    id              INTEGER PRIMARY KEY,
    batch_id        TEXT NOT NULL REFERENCES batches (id),
    row_no          INTEGER NOT NULL,
    intake_seq      INTEGER NOT NULL,
    digest          BLOB NOT NULL,
    recorded_digest BLOB,
    detail          TEXT NOT NULL,
    at              TEXT NOT NULL,
    UNIQUE (batch_id, row_no, digest)
) STRICT;

-- sessions: every Bank 131 session the ledger heard of for a row.
CREATE TABLE sessions (
    session_id  TEXT PRIMARY KEY,
    batch_id    TEXT NOT NULL,
    row_no      INTEGER NOT NULL,
    attempt     INTEGER NOT NULL,
    role        TEXT NOT NULL,   -- row | abandoned | foreign | cancelled
    last_status TEXT NOT NULL DEFAULT '',
    first_seen  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    FOREIGN KEY (batch_id, row_no) REFERENCES rows (batch_id, row_no)
) STRICT;
CREATE INDEX sessions_row ON sessions (batch_id, row_no);

-- quotes: every FX quote recorded for a row (bpa/calculate).
CREATE TABLE quotes (
    id                INTEGER PRIMARY KEY,
    batch_id          TEXT NOT NULL,
    row_no            INTEGER NOT NULL,
    attempt           INTEGER NOT NULL,
    source_minor      INTEGER NOT NULL,
    source_currency   TEXT NOT NULL,
    dest_minor        INTEGER NOT NULL,
    dest_currency     TEXT NOT NULL,
    transfer_fee_minor INTEGER NOT NULL,
    sms_fee_minor     INTEGER NOT NULL,
    fee_currency      TEXT NOT NULL,
    payment_minor     INTEGER NOT NULL,
    payment_currency  TEXT NOT NULL,
    fx_rate           TEXT NOT NULL,
    quantity          INTEGER NOT NULL DEFAULT 0,
    at                TEXT NOT NULL,
    FOREIGN KEY (batch_id, row_no) REFERENCES rows (batch_id, row_no)
) STRICT;
CREATE INDEX quotes_row ON quotes (batch_id, row_no);

-- transitions: every change of a row's state, with its evidence.
CREATE TABLE transitions (
    id          INTEGER PRIMARY KEY,
    batch_id    TEXT NOT NULL,
    row_no      INTEGER NOT NULL,
    from_state  TEXT NOT NULL,
    to_state    TEXT NOT NULL,
    at          TEXT NOT NULL,
    source      TEXT NOT NULL,   -- ledgerapi.Source*: processor, webhook, status, report, sweeper, operator, ledger, dead_letter
    worker      TEXT NOT NULL DEFAULT '',
    gen         INTEGER NOT NULL,
    attempt     INTEGER NOT NULL,
    session_id  TEXT NOT NULL DEFAULT '',
    payout_id   TEXT NOT NULL DEFAULT '',
    idem_key    TEXT NOT NULL DEFAULT '',
    error_code  TEXT NOT NULL DEFAULT '',
    reason      TEXT NOT NULL DEFAULT '',
    hook_id     TEXT NOT NULL DEFAULT '',
    hook_type   TEXT NOT NULL DEFAULT '',
    detail      TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX transitions_row ON transitions (batch_id, row_no);

-- gate_checks: every gate decision with what the bank showed.
CREATE TABLE gate_checks (
    id           INTEGER PRIMARY KEY,
    batch_id     TEXT NOT NULL,
    row_no       INTEGER NOT NULL,
    session_id   TEXT NOT NULL,
    payout_id    TEXT NOT NULL DEFAULT '',
    decision     TEXT NOT NULL,  -- confirm | cancel | ignore
    reason       TEXT NOT NULL DEFAULT '',
    observed     TEXT NOT NULL,  -- JSON of ledgerapi.Observed
    confirm_info TEXT NOT NULL DEFAULT '',
    tcn          TEXT NOT NULL DEFAULT '',
    source       TEXT NOT NULL DEFAULT '',
    hook_id      TEXT NOT NULL DEFAULT '',
    hook_type    TEXT NOT NULL DEFAULT '',
    worker       TEXT NOT NULL DEFAULT '',
    at           TEXT NOT NULL
) STRICT;
CREATE INDEX gate_checks_row ON gate_checks (batch_id, row_no);

-- bank_events: every verified webhook the ledger read from PAYRUN_HOOKS.
CREATE TABLE bank_events (
    hook_id        TEXT PRIMARY KEY,            -- sha256 of the body (Nats-Msg-Id)
    type           TEXT NOT NULL,
    session_id     TEXT NOT NULL DEFAULT '',
    session_status TEXT NOT NULL DEFAULT '',
    payout_id      TEXT NOT NULL DEFAULT '',
    payout_status  TEXT NOT NULL DEFAULT '',
    amount_minor   INTEGER,
    currency       TEXT NOT NULL DEFAULT '',
    fee_minor      INTEGER,
    fee_currency   TEXT NOT NULL DEFAULT '',
    error_code     TEXT NOT NULL DEFAULT '',
    error_text     TEXT NOT NULL DEFAULT '',
    ref_batch      TEXT NOT NULL DEFAULT '',    -- from the metadata, when it parses
    ref_row        INTEGER,
    ref_reference  TEXT NOT NULL DEFAULT '',
    stream_seq     INTEGER NOT NULL,
    received_at    TEXT NOT NULL,               -- when hookrelay received it
    recorded_at    TEXT NOT NULL,
    body           TEXT NOT NULL                -- verified raw body (cards are masked by the bank)
) STRICT;
CREATE INDEX bank_events_session ON bank_events (session_id);
CREATE INDEX bank_events_ref ON bank_events (ref_batch, ref_row);

-- exceptions: what a person must look at.
CREATE TABLE exceptions (
    id         INTEGER PRIMARY KEY,
    category   TEXT NOT NULL,   -- see ledger.Exception* constants
    key        TEXT NOT NULL UNIQUE,
    batch_id   TEXT NOT NULL DEFAULT '',
    row_no     INTEGER,
    detail     TEXT NOT NULL,
    opened_at  TEXT NOT NULL,
    closed_at  TEXT,
    resolution TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX exceptions_open ON exceptions (batch_id, row_no) WHERE closed_at IS NULL;

-- cursors: the last stream sequence whose message is recorded, committed
-- with the records themselves. The intake consumer restarts after it, so
-- an unacknowledged message is never skipped.
CREATE TABLE cursors (
    name TEXT PRIMARY KEY,
    seq  INTEGER NOT NULL
) STRICT;
