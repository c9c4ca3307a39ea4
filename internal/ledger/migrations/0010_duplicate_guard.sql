-- The duplicate guard (issue 11): a row whose reference was paid or is in
-- flight in another batch (a repeat), or whose payee was paid the same
-- amount under another reference within the window (a probable
-- duplicate), is held at intake until a person releases or drops it.

-- rows.payee: payout.PayeeKey.Bytes() (the kind, then a 32-byte digest;
-- never a card number, token or IBAN as text); NULL when the row names no
-- payee (a cash transfer, a card row whose message carries no fingerprint).
ALTER TABLE rows ADD COLUMN payee BLOB;
-- rows.held: 1 while the guard holds the row; the release passes it by.
ALTER TABLE rows ADD COLUMN held INTEGER NOT NULL DEFAULT 0;

-- References are looked up by this index; payees by the ledger's payee
-- index in memory (ledger/payees.go: an index of digests takes every
-- insert at a random page).
CREATE INDEX rows_reference ON rows (reference);

-- holds: why the guard held a row (the earlier row it repeats) and what a
-- person decided about it.
CREATE TABLE holds (
    batch_id        TEXT NOT NULL,
    row_no          INTEGER NOT NULL,
    kind            TEXT NOT NULL,               -- repeat | duplicate
    earlier_batch   TEXT NOT NULL,
    earlier_row     INTEGER NOT NULL,
    reason          TEXT NOT NULL,               -- in words, naming the earlier batch and row
    held_at         TEXT NOT NULL,
    decision        TEXT NOT NULL DEFAULT '',    -- '' while held | released | dropped
    decided_by      TEXT NOT NULL DEFAULT '',
    decided_at      TEXT,
    decision_reason TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (batch_id, row_no),
    FOREIGN KEY (batch_id, row_no) REFERENCES rows (batch_id, row_no)
) STRICT, WITHOUT ROWID;

-- decisions: every decision a person (or the breaker) took on a batch or
-- a row, with who and why, written in the transaction that acts on it.
CREATE TABLE decisions (
    id       INTEGER PRIMARY KEY,
    at       TEXT NOT NULL,
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,                      -- ledger.Action*: release, drop, cancel, hold, resume, resubmit, approve
    batch_id TEXT NOT NULL,
    row_no   INTEGER,                            -- NULL: the batch as a whole
    reason   TEXT NOT NULL DEFAULT '',
    detail   TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX decisions_batch ON decisions (batch_id, row_no);
