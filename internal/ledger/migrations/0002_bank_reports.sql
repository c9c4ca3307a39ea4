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
-- minor units). The same operation in two files is kept twice; the
-- reconciliation counts operations by id.
CREATE TABLE bank_report_lines (
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
    PRIMARY KEY (report_id, line)
) STRICT, WITHOUT ROWID;
CREATE INDEX bank_report_lines_ref ON bank_report_lines (ref_batch, ref_row);
CREATE INDEX bank_report_lines_session ON bank_report_lines (session_id);

-- session/status answers are transitions with source 'status'; reports
-- read them per batch without scanning every transition.
CREATE INDEX transitions_status ON transitions (batch_id, row_no) WHERE source = 'status';
