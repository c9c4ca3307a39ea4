-- Bank 131's daily reports of successful operations, imported as evidence
-- for reconciliation (`ledger import-report`, Service.ImportBankReport).

-- bank_reports: one per imported file, named by the SHA-256 of its bytes,
-- so importing the same file again changes nothing. A report counts as
-- covering its days only once complete (every line recorded).
CREATE TABLE bank_reports (
    id          TEXT PRIMARY KEY,          -- sha256 hex of the file
    source      TEXT NOT NULL,             -- file name or URL it came from
    lines       INTEGER NOT NULL,          -- operation lines in the file
    complete    INTEGER NOT NULL DEFAULT 0,
    started_at  TEXT NOT NULL,
    imported_at TEXT                       -- when the import completed
) STRICT;

-- bank_report_days: the days (UTC, YYYY-MM-DD) a report covers. A success
-- the ledger recorded on a covered day that no report lists is an exception.
CREATE TABLE bank_report_days (
    day       TEXT NOT NULL,
    report_id TEXT NOT NULL REFERENCES bank_reports (id),
    PRIMARY KEY (day, report_id)
) STRICT, WITHOUT ROWID;

-- bank_report_lines: every operation line as the bank wrote it (amounts in
-- minor units), with the row it was found to concern when imported (by the
-- session the ledger recorded, else by the metadata; row_no 0: no row of
-- ours). Clustered by that row, so a batch's lines are read in one range.
-- The same operation in two files is kept twice; the reconciliation counts
-- operations by id.
CREATE TABLE bank_report_lines (
    batch_id         TEXT NOT NULL,        -- the row's batch, or the metadata's; '' when neither
    row_no           INTEGER NOT NULL,     -- the row; 0 when the ledger has no such row
    report_id        TEXT NOT NULL REFERENCES bank_reports (id),
    line             INTEGER NOT NULL,     -- 1-based data line in the file
    operation_id     TEXT NOT NULL,
    session_id       TEXT NOT NULL,
    type             TEXT NOT NULL,        -- Advice (paid) | Refund (returned)
    metadata         TEXT NOT NULL DEFAULT '',
    ref_batch        TEXT NOT NULL DEFAULT '',  -- from the metadata, when it parses
    ref_row          INTEGER,
    ref_reference    TEXT NOT NULL DEFAULT '',
    transaction_date TEXT NOT NULL,
    finished_at      TEXT NOT NULL,        -- as the bank wrote it
    amount_minor     INTEGER NOT NULL,
    currency         TEXT NOT NULL,
    fee_minor        INTEGER,
    fee_currency     TEXT NOT NULL DEFAULT '',
    payment_fast     TEXT NOT NULL DEFAULT '',
    payment_method   TEXT NOT NULL DEFAULT '',
    contract         TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (batch_id, row_no, report_id, line),
    UNIQUE (report_id, line)
) STRICT, WITHOUT ROWID;

-- The webhooks that finish or return a payout, by the row their metadata
-- names, with what a report shows of them (read without the bodies).
CREATE INDEX bank_events_finished ON bank_events (ref_batch, ref_row, stream_seq, session_id, type, payout_status,
    amount_minor, currency, error_code, recorded_at)
    WHERE type IN ('payment_finished', 'payment_refunded');

-- session/status answers are transitions with source 'status'; reports
-- read them per batch without scanning every transition.
CREATE INDEX transitions_status ON transitions (batch_id, row_no) WHERE source = 'status';
