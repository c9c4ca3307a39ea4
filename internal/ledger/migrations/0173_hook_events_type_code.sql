-- A webhook's type as a code (issue 17: the type's text was ~16 bytes of
-- each webhook in hook_events and in the report's covering index
-- hook_events_finished, ~45 bytes per paid row after a 100k-row token
-- batch). hook_events.ty keeps 1 ready_to_confirm, 2 payment_finished,
-- 3 payment_refunded, 4 action_required (bank131.Hook*); any other type as
-- its text. hook_events.type is a virtual column of the text (no bytes),
-- and bank_events reads as before. hook_events_finished holds the code and
-- is partial on it (ty IN (2, 3)): the report reads the finishing
-- webhooks from hook_events by the code (ledger.readHooks; a file before
-- this migration through bank_events, as before).
-- hook_events is rebuilt, every webhook with its id as it was.

CREATE TABLE hook_events_0173 (
    id             INTEGER PRIMARY KEY,
    h              ANY NOT NULL,                -- BLOB: the SHA-256 the hex id spells; TEXT: the id;
                                                -- unique (hook_events_h and hook_events_unique)
    ty             ANY NOT NULL,                -- type: code, or text
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
    type           TEXT GENERATED ALWAYS AS (CASE ty WHEN 1 THEN 'ready_to_confirm' WHEN 2 THEN 'payment_finished' WHEN 3 THEN 'payment_refunded'
        WHEN 4 THEN 'action_required' ELSE ty END) VIRTUAL,
    received_at    TEXT GENERATED ALWAYS AS (CASE WHEN typeof(received) = 'integer'
        THEN strftime('%Y-%m-%dT%H:%M:%S', received / 1000000000, 'unixepoch') || printf('.%09dZ', received % 1000000000)
        ELSE received END) VIRTUAL
) STRICT;

INSERT INTO hook_events_0173 (id, h, ty, sid, ss, pid, ps, amount_minor, currency, fee_minor, fee_currency,
    error_code, error_text, bk, ref_row, ref_reference, stream_seq, received, rec, body, body_z)
SELECT id, h, CASE type WHEN 'ready_to_confirm' THEN 1 WHEN 'payment_finished' THEN 2 WHEN 'payment_refunded' THEN 3
        WHEN 'action_required' THEN 4 ELSE type END, sid, ss, pid, ps, amount_minor, currency, fee_minor, fee_currency,
    error_code, error_text, bk, ref_row, ref_reference, stream_seq, received, rec, body, body_z
FROM hook_events ORDER BY id;
-- The views that read hook_events go and come back as they were (a
-- table is renamed only when every view reads a table that exists).
DROP VIEW transitions;
DROP VIEW gate_checks;
DROP VIEW bank_events;
DROP TABLE hook_events;
ALTER TABLE hook_events_0173 RENAME TO hook_events;

-- The indexes and triggers of 0170; the finishing webhooks' by the code.
CREATE INDEX hook_events_h ON hook_events (substr(h, 1, 8));
CREATE TRIGGER hook_events_unique BEFORE INSERT ON hook_events
    WHEN EXISTS (SELECT 1 FROM hook_events WHERE substr(h, 1, 8) = substr(new.h, 1, 8) AND h = new.h)
BEGIN SELECT RAISE(ABORT, 'UNIQUE constraint failed: hook_events.h'); END;
CREATE TRIGGER hook_events_unique_update BEFORE UPDATE OF h ON hook_events
    WHEN EXISTS (SELECT 1 FROM hook_events WHERE substr(h, 1, 8) = substr(new.h, 1, 8) AND h = new.h AND id <> new.id)
BEGIN SELECT RAISE(ABORT, 'UNIQUE constraint failed: hook_events.h'); END;

CREATE INDEX hook_events_session ON hook_events (sid);
CREATE INDEX hook_events_ref ON hook_events (bk, ref_row);
CREATE INDEX hook_events_finished ON hook_events (bk, ref_row, stream_seq,
    (CASE WHEN typeof(sid) = 'integer' THEN 'ps_' || sid ELSE sid END), ty, ps,
    amount_minor, currency, error_code, (CASE WHEN typeof(rec) = 'integer'
        THEN strftime('%Y-%m-%dT%H:%M:%S', rec / 1000000000, 'unixepoch') || printf('.%09dZ', rec % 1000000000)
        ELSE rec END))
    WHERE ty IN (2, 3);

-- The view and its triggers as 0170 made them; the type by its code.
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
    INSERT INTO hook_events (h, ty, sid, ss, pid, ps, amount_minor, currency,
        fee_minor, fee_currency, error_code, error_text, bk, ref_row, ref_reference, stream_seq, received, rec,
        body, body_z)
    SELECT CASE WHEN length(new.hook_id) = 64 AND lower(hex(unhex(new.hook_id))) = new.hook_id THEN unhex(new.hook_id)
            ELSE new.hook_id END,
        CASE new.type WHEN 'ready_to_confirm' THEN 1 WHEN 'payment_finished' THEN 2 WHEN 'payment_refunded' THEN 3
            WHEN 'action_required' THEN 4 ELSE new.type END,
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

-- The transitions log, the gate checks and hook_events_refs as 0172 and
-- 0171 made them.
CREATE TRIGGER hook_events_refs BEFORE DELETE ON hook_events BEGIN
    UPDATE moves SET hook = old.h WHERE bk = old.bk AND row_no = old.ref_row AND hook = old.id;
    UPDATE gates SET hook = old.h WHERE bk = old.bk AND row_no = old.ref_row AND hook = old.id;
END;

CREATE VIEW transitions AS
SELECT m.id AS id, b.batch_id AS batch_id, m.row_no AS row_no, CASE m.fs WHEN 1 THEN 'received' WHEN 2 THEN 'scheduled'
        WHEN 3 THEN 'awaiting_approval' WHEN 4 THEN 'queued' WHEN 5 THEN 'claimed' WHEN 6 THEN 'quoted'
        WHEN 7 THEN 'opening' WHEN 8 THEN 'session_open' WHEN 9 THEN 'starting' WHEN 10 THEN 'payout_started'
        WHEN 11 THEN 'confirming' WHEN 12 THEN 'confirmed' WHEN 13 THEN 'action_required' WHEN 14 THEN 'in_doubt'
        WHEN 15 THEN 'succeeded' WHEN 16 THEN 'failed' WHEN 17 THEN 'cancelled' WHEN 18 THEN 'returned'
        ELSE m.fs END AS from_state, m.to_state AS to_state,
    CASE WHEN typeof(m.t) = 'integer'
        THEN strftime('%Y-%m-%dT%H:%M:%S', m.t / 1000000000, 'unixepoch') || printf('.%09dZ', m.t % 1000000000)
        ELSE m.t END AS at, m.source AS source, (SELECT name FROM move_names WHERE k = m.worker) AS worker, m.gen AS gen,
    m.attempt AS attempt, CASE WHEN typeof(m.session_id) = 'integer' THEN 'ps_' || m.session_id ELSE m.session_id END AS session_id,
    CASE WHEN typeof(m.payout_id) = 'integer' THEN 'po_' || m.payout_id ELSE m.payout_id END AS payout_id,
    CASE typeof(m.idem) WHEN 'blob' THEN b.batch_id || '/' || m.row_no || '/' || CAST(m.idem AS TEXT)
        WHEN 'integer' THEN b.batch_id || '/' || m.row_no || '/' || CASE m.idem % 8
            WHEN 1 THEN 'a' || (m.idem / 8) || '/create' WHEN 2 THEN 'a' || (m.idem / 8) || '/start'
            WHEN 3 THEN 'a' || (m.idem / 8) || '/init' WHEN 4 THEN 'init'
            WHEN 5 THEN 'ps_' || m.session_id || '/confirm' WHEN 6 THEN 'ps_' || m.session_id || '/cancel' END
        ELSE m.idem END AS idem_key,
    (SELECT name FROM move_names WHERE k = m.error_code) AS error_code, m.reason AS reason,
    CASE typeof(m.hook) WHEN 'integer' THEN (SELECT e.hook_id FROM hook_events e WHERE e.id = m.hook)
        WHEN 'blob' THEN lower(hex(m.hook)) ELSE m.hook END AS hook_id,
    (SELECT name FROM move_names WHERE k = m.hook_type) AS hook_type,
    CASE WHEN m.detail = 0 THEN m.note ELSE (SELECT name FROM move_names WHERE k = m.detail) END AS detail
FROM moves m JOIN batch_keys b ON b.k = m.bk;

CREATE TRIGGER transitions_insert INSTEAD OF INSERT ON transitions BEGIN
    INSERT OR IGNORE INTO batch_keys (batch_id) VALUES (new.batch_id);
    INSERT OR IGNORE INTO move_names (name)
        SELECT v FROM (SELECT coalesce(new.worker, '') AS v UNION ALL SELECT coalesce(new.error_code, '')
            UNION ALL SELECT coalesce(new.hook_type, ''))
        WHERE v <> '';
    INSERT INTO moves (id, bk, row_no, fs, ts, t, src, worker, gen, attempt, session_id, payout_id, idem,
        error_code, reason, hook, hook_type, detail, note)
    SELECT new.id, (SELECT k FROM batch_keys WHERE batch_id = new.batch_id), new.row_no,
        CASE new.from_state WHEN 'received' THEN 1 WHEN 'scheduled' THEN 2 WHEN 'awaiting_approval' THEN 3
            WHEN 'queued' THEN 4 WHEN 'claimed' THEN 5 WHEN 'quoted' THEN 6 WHEN 'opening' THEN 7 WHEN 'session_open' THEN 8
            WHEN 'starting' THEN 9 WHEN 'payout_started' THEN 10 WHEN 'confirming' THEN 11 WHEN 'confirmed' THEN 12
            WHEN 'action_required' THEN 13 WHEN 'in_doubt' THEN 14 WHEN 'succeeded' THEN 15 WHEN 'failed' THEN 16
            WHEN 'cancelled' THEN 17 WHEN 'returned' THEN 18 ELSE new.from_state END,
        CASE new.to_state WHEN 'received' THEN 1 WHEN 'scheduled' THEN 2 WHEN 'awaiting_approval' THEN 3
            WHEN 'queued' THEN 4 WHEN 'claimed' THEN 5 WHEN 'quoted' THEN 6 WHEN 'opening' THEN 7 WHEN 'session_open' THEN 8
            WHEN 'starting' THEN 9 WHEN 'payout_started' THEN 10 WHEN 'confirming' THEN 11 WHEN 'confirmed' THEN 12
            WHEN 'action_required' THEN 13 WHEN 'in_doubt' THEN 14 WHEN 'succeeded' THEN 15 WHEN 'failed' THEN 16
            WHEN 'cancelled' THEN 17 WHEN 'returned' THEN 18 ELSE new.to_state END,
        CASE WHEN typeof(e) = 'integer' AND e >= 0 AND strftime('%Y-%m-%dT%H:%M:%S', e / 1000000000, 'unixepoch') = substr(new.at, 1, 19)
            THEN e ELSE new.at END,
        CASE new.source WHEN 'processor' THEN 21 WHEN 'webhook' THEN 22 WHEN 'status' THEN 23 WHEN 'report' THEN 24
            WHEN 'sweeper' THEN 25 WHEN 'operator' THEN 26 WHEN 'ledger' THEN 27 WHEN 'dead_letter' THEN 28
            ELSE new.source END,
        CASE WHEN coalesce(new.worker, '') = '' THEN 0 ELSE (SELECT k FROM move_names WHERE name = new.worker) END,
        new.gen, new.attempt, CASE WHEN coalesce(new.session_id, '') GLOB 'ps_*' AND 'ps_' || CAST(substr(coalesce(new.session_id, ''), 4) AS INTEGER) = coalesce(new.session_id, '') THEN CAST(substr(coalesce(new.session_id, ''), 4) AS INTEGER) ELSE coalesce(new.session_id, '') END,
        CASE WHEN coalesce(new.payout_id, '') GLOB 'po_*' AND 'po_' || CAST(substr(coalesce(new.payout_id, ''), 4) AS INTEGER) = coalesce(new.payout_id, '') THEN CAST(substr(coalesce(new.payout_id, ''), 4) AS INTEGER) ELSE coalesce(new.payout_id, '') END,
        CASE WHEN substr(new.idem_key, 1, length(p)) = p THEN CASE WHEN substr(new.idem_key, length(p) + 1) GLOB 'a[0-9]*/create' AND length(substr(new.idem_key, length(p) + 1)) < 25 AND 'a' || CAST(substr(substr(new.idem_key, length(p) + 1), 2, length(substr(new.idem_key, length(p) + 1)) - 8) AS INTEGER) || '/create' = substr(new.idem_key, length(p) + 1)
                THEN CAST(substr(substr(new.idem_key, length(p) + 1), 2, length(substr(new.idem_key, length(p) + 1)) - 8) AS INTEGER) * 8 + 1
            WHEN substr(new.idem_key, length(p) + 1) GLOB 'a[0-9]*/start' AND length(substr(new.idem_key, length(p) + 1)) < 24 AND 'a' || CAST(substr(substr(new.idem_key, length(p) + 1), 2, length(substr(new.idem_key, length(p) + 1)) - 7) AS INTEGER) || '/start' = substr(new.idem_key, length(p) + 1)
                THEN CAST(substr(substr(new.idem_key, length(p) + 1), 2, length(substr(new.idem_key, length(p) + 1)) - 7) AS INTEGER) * 8 + 2
            WHEN substr(new.idem_key, length(p) + 1) GLOB 'a[0-9]*/init' AND length(substr(new.idem_key, length(p) + 1)) < 23 AND 'a' || CAST(substr(substr(new.idem_key, length(p) + 1), 2, length(substr(new.idem_key, length(p) + 1)) - 6) AS INTEGER) || '/init' = substr(new.idem_key, length(p) + 1)
                THEN CAST(substr(substr(new.idem_key, length(p) + 1), 2, length(substr(new.idem_key, length(p) + 1)) - 6) AS INTEGER) * 8 + 3
            WHEN substr(new.idem_key, length(p) + 1) = 'init' THEN 4
            WHEN coalesce(new.session_id, '') GLOB 'ps_*' AND 'ps_' || CAST(substr(coalesce(new.session_id, ''), 4) AS INTEGER) = coalesce(new.session_id, '') AND substr(new.idem_key, length(p) + 1) = coalesce(new.session_id, '') || '/confirm' THEN 5
            WHEN coalesce(new.session_id, '') GLOB 'ps_*' AND 'ps_' || CAST(substr(coalesce(new.session_id, ''), 4) AS INTEGER) = coalesce(new.session_id, '') AND substr(new.idem_key, length(p) + 1) = coalesce(new.session_id, '') || '/cancel' THEN 6
            ELSE CAST(substr(new.idem_key, length(p) + 1) AS BLOB) END
            ELSE coalesce(new.idem_key, '') END,
        CASE WHEN coalesce(new.error_code, '') = '' THEN 0 ELSE (SELECT k FROM move_names WHERE name = new.error_code) END,
        coalesce(new.reason, ''),
        CASE WHEN coalesce(new.hook_id, '') = '' THEN '' ELSE coalesce((SELECT e.id FROM hook_events e
            WHERE substr(e.h, 1, 8) = substr(CASE WHEN length(new.hook_id) = 64 AND lower(hex(unhex(new.hook_id))) = new.hook_id THEN unhex(new.hook_id)
            ELSE coalesce(new.hook_id, '') END, 1, 8) AND e.h = CASE WHEN length(new.hook_id) = 64 AND lower(hex(unhex(new.hook_id))) = new.hook_id THEN unhex(new.hook_id)
            ELSE coalesce(new.hook_id, '') END
            AND e.bk = (SELECT k FROM batch_keys WHERE batch_id = new.batch_id) AND e.ref_row = new.row_no),
            CASE WHEN length(new.hook_id) = 64 AND lower(hex(unhex(new.hook_id))) = new.hook_id THEN unhex(new.hook_id)
            ELSE coalesce(new.hook_id, '') END) END,
        CASE WHEN coalesce(new.hook_type, '') = '' THEN 0 ELSE (SELECT k FROM move_names WHERE name = new.hook_type) END,
        coalesce(d, 0), CASE WHEN d IS NULL THEN coalesce(new.detail, '') ELSE '' END
    FROM (SELECT max(CASE WHEN new.at GLOB '[12][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]Z'
            THEN unixepoch(substr(new.at, 1, 19)) * 1000000000 + CAST(substr(new.at, 21, 9) AS INTEGER) END) AS e,
        max(new.batch_id || '/' || new.row_no || '/') AS p,
        max((SELECT k FROM move_names WHERE name = new.detail AND k BETWEEN 100 AND 999)) AS d);
END;

CREATE TRIGGER transitions_delete INSTEAD OF DELETE ON transitions BEGIN
    DELETE FROM moves WHERE id = old.id;
END;

CREATE VIEW gate_checks AS
SELECT g.id AS id, b.batch_id AS batch_id, g.row_no AS row_no, g.session_id AS session_id, g.payout_id AS payout_id,
    CASE g.decision WHEN 1 THEN 'confirm' WHEN 2 THEN 'cancel' WHEN 3 THEN 'ignore' WHEN 4 THEN 'wait' ELSE g.decision END AS decision,
    g.reason AS reason,
    CASE WHEN typeof(g.observed) = 'blob' THEN replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(CAST(g.observed AS TEXT), char(1), '{"amount":{"minor":'), char(2), ',"currency":"'), char(3), '"},"recipient":"'), char(4), '","token":"'), char(5), '"},"token":"'), char(6), '"}'), char(7), '","last4":"'), char(8), '"},"last4":"'), char(14), '","fx_rate":"'), char(15), '","commission":{"minor":'), char(16), '"},"source":{"minor":'), char(17), '"},"destination":{"minor":')
        ELSE g.observed END AS observed,
    g.confirm_info AS confirm_info, g.tcn AS tcn,
    CASE g.src WHEN 21 THEN 'processor' WHEN 22 THEN 'webhook' WHEN 23 THEN 'status' WHEN 24 THEN 'report'
        WHEN 25 THEN 'sweeper' WHEN 26 THEN 'operator' WHEN 27 THEN 'ledger' WHEN 28 THEN 'dead_letter' ELSE g.src END AS source,
    CASE typeof(g.hook) WHEN 'integer' THEN (SELECT e.hook_id FROM hook_events e WHERE e.id = g.hook)
        WHEN 'blob' THEN lower(hex(g.hook)) ELSE g.hook END AS hook_id,
    (SELECT name FROM move_names WHERE k = g.hook_type) AS hook_type,
    (SELECT name FROM move_names WHERE k = g.worker) AS worker,
    CASE WHEN typeof(g.t) = 'integer'
        THEN strftime('%Y-%m-%dT%H:%M:%S', g.t / 1000000000, 'unixepoch') || printf('.%09dZ', g.t % 1000000000)
        ELSE g.t END AS at,
    g.hook_seq AS hook_seq
FROM gates g JOIN batch_keys b ON b.k = g.bk;

CREATE TRIGGER gate_checks_insert INSTEAD OF INSERT ON gate_checks BEGIN
    INSERT OR IGNORE INTO batch_keys (batch_id) VALUES (new.batch_id);
    INSERT OR IGNORE INTO move_names (name)
        SELECT v FROM (SELECT coalesce(new.worker, '') AS v UNION ALL SELECT coalesce(new.hook_type, ''))
        WHERE v <> '';
    INSERT INTO gates (id, bk, row_no, session_id, payout_id, decision, reason, observed, confirm_info, tcn, src, hook,
        hook_type, worker, t, hook_seq)
    SELECT new.id, (SELECT k FROM batch_keys WHERE batch_id = new.batch_id), new.row_no, new.session_id,
        coalesce(new.payout_id, ''),
        CASE new.decision WHEN 'confirm' THEN 1 WHEN 'cancel' THEN 2 WHEN 'ignore' THEN 3 WHEN 'wait' THEN 4 ELSE new.decision END,
        coalesce(new.reason, ''),
        CASE WHEN new.observed GLOB '*[' || char(1, 2, 3, 4, 5, 6, 7, 8, 14, 15, 16, 17) || ']*' THEN new.observed
            ELSE CAST(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(new.observed, '"},"destination":{"minor":', char(17)), '"},"source":{"minor":', char(16)), '","commission":{"minor":', char(15)), '"},"recipient":"', char(3)), '"},"token":"', char(5)), '"},"last4":"', char(8)), '"}', char(6)), '","fx_rate":"', char(14)), '","token":"', char(4)), '","last4":"', char(7)), '{"amount":{"minor":', char(1)), ',"currency":"', char(2)) AS BLOB) END,
        coalesce(new.confirm_info, ''), coalesce(new.tcn, ''),
        CASE coalesce(new.source, '') WHEN 'processor' THEN 21 WHEN 'webhook' THEN 22 WHEN 'status' THEN 23 WHEN 'report' THEN 24
            WHEN 'sweeper' THEN 25 WHEN 'operator' THEN 26 WHEN 'ledger' THEN 27 WHEN 'dead_letter' THEN 28
            ELSE coalesce(new.source, '') END,
        CASE WHEN coalesce(new.hook_id, '') = '' THEN '' ELSE coalesce((SELECT e.id FROM hook_events e
            WHERE substr(e.h, 1, 8) = substr(CASE WHEN length(new.hook_id) = 64 AND lower(hex(unhex(new.hook_id))) = new.hook_id THEN unhex(new.hook_id)
            ELSE coalesce(new.hook_id, '') END, 1, 8) AND e.h = CASE WHEN length(new.hook_id) = 64 AND lower(hex(unhex(new.hook_id))) = new.hook_id THEN unhex(new.hook_id)
            ELSE coalesce(new.hook_id, '') END
            AND e.bk = (SELECT k FROM batch_keys WHERE batch_id = new.batch_id) AND e.ref_row = new.row_no),
            CASE WHEN length(new.hook_id) = 64 AND lower(hex(unhex(new.hook_id))) = new.hook_id THEN unhex(new.hook_id)
            ELSE coalesce(new.hook_id, '') END) END,
        CASE WHEN coalesce(new.hook_type, '') = '' THEN 0 ELSE (SELECT k FROM move_names WHERE name = new.hook_type) END,
        CASE WHEN coalesce(new.worker, '') = '' THEN 0 ELSE (SELECT k FROM move_names WHERE name = new.worker) END,
        CASE WHEN typeof(e) = 'integer' AND e >= 0 AND strftime('%Y-%m-%dT%H:%M:%S', e / 1000000000, 'unixepoch') = substr(new.at, 1, 19)
            THEN e ELSE new.at END,
        coalesce(new.hook_seq, 0)
    FROM (SELECT max(CASE WHEN new.at GLOB '[12][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]Z'
            THEN unixepoch(substr(new.at, 1, 19)) * 1000000000 + CAST(substr(new.at, 21, 9) AS INTEGER) END) AS e);
END;

CREATE TRIGGER gate_checks_delete INSTEAD OF DELETE ON gate_checks BEGIN
    DELETE FROM gates WHERE id = old.id;
END;
