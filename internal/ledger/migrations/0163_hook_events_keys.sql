-- The verified webhooks in fewer bytes (issue 17: hook_events and its
-- indexes were ~800 of ~2 200 bytes per paid row). Nothing is dropped;
-- `bank_events` reads exactly as before (the same columns, the same text):
--   ref_batch       the batch's key (batch_keys.k) in the table and in its
--                   indexes hook_events_ref and hook_events_finished; the
--                   key 0 is '' (a webhook that names no batch), in every
--                   ledger and archive file;
--   session_status  1 created, 2 in_progress, 3 accepted, 4 cancelled,
--                   5 error (bank131.Session*); any other value as text;
--   payout_status   1 in_progress, 2 pending, 3 succeeded, 4 failed
--                   (bank131.Payout*); any other value as text;
--   session_id, payout_id  'ps_' or 'po_' and a decimal integer that
--                   reads back as the same text as that integer, as moves
--                   keeps them (0162); any other id as its text; the
--                   session index holds the integer (the ledger's lookups
--                   by session encode the id: ledger.bankIDKey, idCode), the
--                   report's covering index the text (as recorded_at
--                   below);
--   recorded_at     integer nanoseconds since 1970 when that gives back the
--                   same text (ledger.formatTime), else the text; the
--                   report's covering index hook_events_finished holds the
--                   text (an index on the view's expression), so the
--                   report reads it from the index, as before.
-- The view joins batch_keys, so a read by batch (the report's finishing
-- webhooks, a row's webhooks) finds the key by batch_keys' unique index and
-- then the webhooks by the key, as the transitions log's reads do (0140).
-- The ledger's writer (ledger.recordHook) writes hook_events directly; an
-- INSERT INTO bank_events goes through the view's trigger.

-- The key 0 for ''. Were '' interned already (no writer does that), its
-- rows move to 0 first.
UPDATE moves SET bk = 0 WHERE bk = (SELECT k FROM batch_keys WHERE batch_id = '');
UPDATE sess SET bk = 0 WHERE bk = (SELECT k FROM batch_keys WHERE batch_id = '');
UPDATE gates SET bk = 0 WHERE bk = (SELECT k FROM batch_keys WHERE batch_id = '');
UPDATE batch_keys SET k = 0 WHERE batch_id = '';
INSERT OR IGNORE INTO batch_keys (k, batch_id) VALUES (0, '');
INSERT OR IGNORE INTO batch_keys (batch_id) SELECT DISTINCT ref_batch FROM hook_events;

CREATE TABLE hook_events_0163 (
    id             INTEGER PRIMARY KEY,
    h              ANY NOT NULL UNIQUE,         -- BLOB: the SHA-256 the hex id spells; TEXT: the id
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

-- The webhooks as they were, in the order they were recorded, with their ids.
INSERT INTO hook_events_0163 (id, h, type, sid, ss, pid, ps, amount_minor, currency, fee_minor, fee_currency,
    error_code, error_text, bk, ref_row, ref_reference, stream_seq, received, rec, body, body_z)
SELECT id, h, type,
    CASE WHEN session_id GLOB 'ps_*' AND 'ps_' || CAST(substr(session_id, 4) AS INTEGER) = session_id
        THEN CAST(substr(session_id, 4) AS INTEGER) ELSE session_id END,
    CASE session_status WHEN 'created' THEN 1 WHEN 'in_progress' THEN 2 WHEN 'accepted' THEN 3 WHEN 'cancelled' THEN 4
        WHEN 'error' THEN 5 ELSE session_status END,
    CASE WHEN payout_id GLOB 'po_*' AND 'po_' || CAST(substr(payout_id, 4) AS INTEGER) = payout_id
        THEN CAST(substr(payout_id, 4) AS INTEGER) ELSE payout_id END,
    CASE payout_status WHEN 'in_progress' THEN 1 WHEN 'pending' THEN 2 WHEN 'succeeded' THEN 3 WHEN 'failed' THEN 4
        ELSE payout_status END,
    amount_minor, currency, fee_minor, fee_currency, error_code, error_text,
    (SELECT k FROM batch_keys WHERE batch_id = ref_batch), ref_row, ref_reference, stream_seq, received,
    CASE WHEN typeof(r) = 'integer' AND strftime('%Y-%m-%dT%H:%M:%S', r / 1000000000, 'unixepoch')
        || printf('.%09dZ', r % 1000000000) = recorded_at THEN r ELSE recorded_at END,
    body, body_z
FROM (SELECT *, unixepoch(substr(recorded_at, 1, 19)) * 1000000000 + CAST(substr(recorded_at, 21, 9) AS INTEGER) AS r
    FROM hook_events) ORDER BY id;
DROP VIEW bank_events;
DROP TABLE hook_events;
ALTER TABLE hook_events_0163 RENAME TO hook_events;

-- The indexes 0141 made, the batch by its key, the session as stored.
CREATE INDEX hook_events_session ON hook_events (sid);
CREATE INDEX hook_events_ref ON hook_events (bk, ref_row);
-- session_id and recorded_at as the view's expressions: the index holds
-- the text and a read through the view takes it from there (each
-- expression must stay the view's, token for token: TestHookEventsPlans).
CREATE INDEX hook_events_finished ON hook_events (bk, ref_row, stream_seq,
    (CASE WHEN typeof(sid) = 'integer' THEN 'ps_' || sid ELSE sid END), type, ps,
    amount_minor, currency, error_code, (CASE WHEN typeof(rec) = 'integer'
        THEN strftime('%Y-%m-%dT%H:%M:%S', rec / 1000000000, 'unixepoch') || printf('.%09dZ', rec % 1000000000)
        ELSE rec END))
    WHERE type IN ('payment_finished', 'payment_refunded');

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
    DELETE FROM hook_events WHERE h = CASE WHEN length(old.hook_id) = 64 AND lower(hex(unhex(old.hook_id))) = old.hook_id
        THEN unhex(old.hook_id) ELSE old.hook_id END;
END;
