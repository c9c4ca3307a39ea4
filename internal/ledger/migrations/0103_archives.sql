-- archives: batches exported to an archive file and pruned from this one
-- (ledger archive, issue 17). The batch's row in batches and its
-- batch_counts stay, so status lists it; its report is read from the
-- archive file, an SQLite ledger file of the same schema holding only that
-- batch (and the bank's report days and imports the reconciliation reads).
-- People's decisions, approvals, the audit trail and the bank's report
-- lines stay here as well as there.
CREATE TABLE archives (
    batch_id    TEXT PRIMARY KEY REFERENCES batches (id),
    path        TEXT NOT NULL,               -- absolute path of the archive file
    sha256      TEXT NOT NULL,               -- of the file as written
    rows        INTEGER NOT NULL,
    archived_at TEXT NOT NULL
) STRICT;
