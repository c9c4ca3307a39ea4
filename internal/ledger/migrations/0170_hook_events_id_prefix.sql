-- The webhook id's uniqueness in fewer bytes (issue 17: the UNIQUE index
-- on hook_events.h, a 32-byte SHA-256 and the rowid in each entry, was 91
-- bytes per paid row after a 100k-row token batch, 2.1 webhooks a row).
-- The id stays whole in the table; the index holds its first 8 bytes
-- (hook_events_h, ~17 bytes an entry against ~41) and every lookup by id
-- compares the whole id after the index found its prefix:
--     substr(h, 1, 8) = substr(?1, 1, 8) AND h = ?1
-- Two ids sharing 8 bytes (never seen among SHA-256s; a text id of the
-- same first 8 characters) are both kept and both found: the index is not
-- unique, the trigger hook_events_unique is, by the whole id, with the
-- error a UNIQUE constraint gives (the ledger's writer, recordHook, looks
-- first and skips a webhook recorded before, as its ON CONFLICT did).
-- SQLite cannot drop a table's UNIQUE: hook_events is rebuilt, with every
-- webhook, id and value as it was; bank_events reads as before.

CREATE TABLE hook_events_0170 (
    id             INTEGER PRIMARY KEY,
    h              ANY NOT NULL,                -- BLOB: the SHA-256 the hex id spells; TEXT: the id;
                                                -- unique (hook_events_h and hook_events_unique)
    type           TEXT NOT NULL,
    sid            ANY NOT NULL DEFAULT '',     -- session_id: INTEGER n: 'ps_' || n; TEXT: the id
    ss             ANY NOT NULL DEFAULT '',     -- session_status: code, or text
    pid            ANY NOT NULL DEFAULT '',     -- payout_id: INTEGER n: 'po_' || n; TEXT: the id
    ps             ANY NOT NULL DEFAULT '',     -- payout_status: code, or text
    amount_minor   INTEGER,
    currency       TEXT NOT NULL DEFAULT '',
    fee_minor      INTEGER,
    fee_currency   TEXT NOT NULL DEFAULT '',
    error_code     TEXT NOT NULL DEFAULT '',
    error_text     TEXT NOT NULL DEFAULT '',
    bk             INTEGER NOT NULL DEFAULT 0,  -- ref_batch: batch_keys.k (0: '')
    ref_row        INTEGER,
    ref_reference  TEXT NOT NULL DEFAULT '',
    stream_seq     INTEGER NOT NULL,
    received       ANY NOT NULL,                -- received_at: Unix nanoseconds, or text
    rec            ANY NOT NULL,                -- recorded_at: Unix nanoseconds, or text
    body           TEXT NOT NULL DEFAULT '',
    body_z         BLOB,
    hook_id        TEXT GENERATED ALWAYS AS (CASE WHEN typeof(h) = 'blob' THEN lower(hex(h)) ELSE h END) VIRTUAL,
    received_at    TEXT GENERATED ALWAYS AS (CASE WHEN typeof(received) = 'integer'
        THEN strftime('%Y-%m-%dT%H:%M:%S', received / 1000000000, 'unixepoch') || printf('.%09dZ', received % 1000000000)
        ELSE received END) VIRTUAL
) STRICT;

INSERT INTO hook_events_0170 (id, h, type, sid, ss, pid, ps, amount_minor, currency, fee_minor, fee_currency,
    error_code, error_text, bk, ref_row, ref_reference, stream_seq, received, rec, body, body_z)
SELECT id, h, type, sid, ss, pid, ps, amount_minor, currency, fee_minor, fee_currency,
    error_code, error_text, bk, ref_row, ref_reference, stream_seq, received, rec, body, body_z
FROM hook_events ORDER BY id;
DROP VIEW bank_events;
DROP TABLE hook_events;
ALTER TABLE hook_events_0170 RENAME TO hook_events;

CREATE INDEX hook_events_h ON hook_events (substr(h, 1, 8));
CREATE TRIGGER hook_events_unique BEFORE INSERT ON hook_events
    WHEN EXISTS (SELECT 1 FROM hook_events WHERE substr(h, 1, 8) = substr(new.h, 1, 8) AND h = new.h)
BEGIN SELECT RAISE(ABORT, 'UNIQUE constraint failed: hook_events.h'); END;
CREATE TRIGGER hook_events_unique_update BEFORE UPDATE OF h ON hook_events
    WHEN EXISTS (SELECT 1 FROM hook_events WHERE substr(h, 1, 8) = substr(new.h, 1, 8) AND h = new.h AND id <> new.id)
BEGIN SELECT RAISE(ABORT, 'UNIQUE constraint failed: hook_events.h'); END;

-- The indexes 0163 made, as it made them (TestHookEventsPlans).
CREATE INDEX hook_events_session ON hook_events (sid);
CREATE INDEX hook_events_ref ON hook_events (bk, ref_row);
CREATE INDEX hook_events_finished ON hook_events (bk, ref_row, stream_seq,
    (CASE WHEN typeof(sid) = 'integer' THEN 'ps_' || sid ELSE sid END), type, ps,
    amount_minor, currency, error_code, (CASE WHEN typeof(rec) = 'integer'
        THEN strftime('%Y-%m-%dT%H:%M:%S', rec / 1000000000, 'unixepoch') || printf('.%09dZ', rec % 1000000000)
        ELSE rec END))
    WHERE type IN ('payment_finished', 'payment_refunded');

-- The view and its insert trigger as 0163 made them; the delete by the
-- id's prefix, then the whole id.
CREATE VIEW bank_events AS SELECT e.hook_id AS hook_id, e.type AS type,
    CASE WHEN typeof(e.sid) = 'integer' THEN 'ps_' || e.sid ELSE e.sid END AS session_id,
    CASE e.ss WHEN 1 THEN 'created' WHEN 2 THEN 'in_progress' WHEN 3 THEN 'accepted' WHEN 4 THEN 'cancelled'
        WHEN 5 THEN 'error' ELSE e.ss END AS session_status,
    CASE WHEN typeof(e.pid) = 'integer' THEN 'po_' || e.pid ELSE e.pid END AS payout_id,
    CASE e.ps WHEN 1 THEN 'in_progress' WHEN 2 THEN 'pending' WHEN 3 THEN 'succeeded' WHEN 4 THEN 'failed'
        ELSE e.ps END AS payout_status,
    e.amount_minor AS amount_minor, e.currency AS currency, e.fee_minor AS fee_minor, e.fee_currency AS fee_currency,
    e.error_code AS error_code, e.error_text AS error_text, b.batch_id AS ref_batch, e.ref_row AS ref_row,
    e.ref_reference AS ref_reference, e.stream_seq AS stream_seq, e.received_at AS received_at,
    CASE WHEN typeof(e.rec) = 'integer'
        THEN strftime('%Y-%m-%dT%H:%M:%S', e.rec / 1000000000, 'unixepoch') || printf('.%09dZ', e.rec % 1000000000)
        ELSE e.rec END AS recorded_at, e.body AS body, e.body_z AS body_z
FROM hook_events e JOIN batch_keys b ON b.k = e.bk;

CREATE TRIGGER bank_events_insert INSTEAD OF INSERT ON bank_events BEGIN
    INSERT OR IGNORE INTO batch_keys (batch_id) VALUES (coalesce(new.ref_batch, ''));
    INSERT INTO hook_events (h, type, sid, ss, pid, ps, amount_minor, currency,
        fee_minor, fee_currency, error_code, error_text, bk, ref_row, ref_reference, stream_seq, received, rec,
        body, body_z)
    SELECT CASE WHEN length(new.hook_id) = 64 AND lower(hex(unhex(new.hook_id))) = new.hook_id THEN unhex(new.hook_id)
            ELSE new.hook_id END,
        new.type,
        CASE WHEN coalesce(new.session_id, '') GLOB 'ps_*'
                AND 'ps_' || CAST(substr(coalesce(new.session_id, ''), 4) AS INTEGER) = coalesce(new.session_id, '')
            THEN CAST(substr(coalesce(new.session_id, ''), 4) AS INTEGER) ELSE coalesce(new.session_id, '') END,
        CASE coalesce(new.session_status, '') WHEN 'created' THEN 1 WHEN 'in_progress' THEN 2 WHEN 'accepted' THEN 3
            WHEN 'cancelled' THEN 4 WHEN 'error' THEN 5 ELSE coalesce(new.session_status, '') END,
        CASE WHEN coalesce(new.payout_id, '') GLOB 'po_*'
                AND 'po_' || CAST(substr(coalesce(new.payout_id, ''), 4) AS INTEGER) = coalesce(new.payout_id, '')
            THEN CAST(substr(coalesce(new.payout_id, ''), 4) AS INTEGER) ELSE coalesce(new.payout_id, '') END,
        CASE coalesce(new.payout_status, '') WHEN 'in_progress' THEN 1 WHEN 'pending' THEN 2 WHEN 'succeeded' THEN 3
            WHEN 'failed' THEN 4 ELSE coalesce(new.payout_status, '') END,
        new.amount_minor, coalesce(new.currency, ''), new.fee_minor,
        coalesce(new.fee_currency, ''), coalesce(new.error_code, ''), coalesce(new.error_text, ''),
        (SELECT k FROM batch_keys WHERE batch_id = coalesce(new.ref_batch, '')), new.ref_row,
        coalesce(new.ref_reference, ''), new.stream_seq,
        CASE WHEN typeof(r) = 'integer' AND strftime('%Y-%m-%dT%H:%M:%S', r / 1000000000, 'unixepoch')
            || printf('.%09dZ', r % 1000000000) = new.received_at THEN r ELSE new.received_at END,
        CASE WHEN typeof(c) = 'integer' AND strftime('%Y-%m-%dT%H:%M:%S', c / 1000000000, 'unixepoch')
            || printf('.%09dZ', c % 1000000000) = new.recorded_at THEN c ELSE new.recorded_at END,
        coalesce(new.body, ''), new.body_z
    FROM (SELECT unixepoch(substr(new.received_at, 1, 19)) * 1000000000 + CAST(substr(new.received_at, 21, 9) AS INTEGER) AS r,
        unixepoch(substr(new.recorded_at, 1, 19)) * 1000000000 + CAST(substr(new.recorded_at, 21, 9) AS INTEGER) AS c);
END;

CREATE TRIGGER bank_events_delete INSTEAD OF DELETE ON bank_events BEGIN
    DELETE FROM hook_events WHERE substr(h, 1, 8) = substr(CASE WHEN length(old.hook_id) = 64 AND lower(hex(unhex(old.hook_id))) = old.hook_id
        THEN unhex(old.hook_id) ELSE old.hook_id END, 1, 8)
        AND h = CASE WHEN length(old.hook_id) = 64 AND lower(hex(unhex(old.hook_id))) = old.hook_id
        THEN unhex(old.hook_id) ELSE old.hook_id END;
END;
