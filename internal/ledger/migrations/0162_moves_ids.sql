-- The session and payout ids of the transitions log in fewer bytes
-- (issue 17: ~105 bytes per paid row as text): an id the bank gives as
-- 'ps_' or 'po_' and a decimal integer that reads back as the same text is
-- kept as that integer (1-8 bytes); any other id as its text. `transitions`
-- reads as before: the view puts the prefix back. moves is rebuilt (a
-- STRICT column's type is fixed): the view, its triggers and indexes as
-- 0140 made them, with these two columns so.
CREATE TABLE moves_0162 (
    id         INTEGER PRIMARY KEY,
    bk         INTEGER NOT NULL,   -- batch_keys.k
    row_no     INTEGER NOT NULL,
    fs         ANY NOT NULL,       -- from state: code, or text
    ts         ANY NOT NULL,       -- to state: code, or text
    t          ANY NOT NULL,       -- at: Unix nanoseconds, or text
    src        ANY NOT NULL,       -- source: code, or text
    worker     INTEGER NOT NULL,   -- move_names.k
    gen        INTEGER NOT NULL,
    attempt    INTEGER NOT NULL,
    session_id ANY NOT NULL,    -- INTEGER n: 'ps_' || n; TEXT: the id
    payout_id  ANY NOT NULL,    -- INTEGER n: 'po_' || n; TEXT: the id
    idem       ANY NOT NULL,       -- BLOB: the key after '<batch>/<row>/'; TEXT: the key
    error_code INTEGER NOT NULL,   -- move_names.k
    reason     TEXT NOT NULL,
    hook       ANY NOT NULL,       -- BLOB: the SHA-256 the hex id spells; TEXT: the id
    hook_type  INTEGER NOT NULL,   -- move_names.k
    detail     INTEGER NOT NULL,   -- move_names.k of a fixed detail (100-999), else 0
    note       TEXT NOT NULL,      -- the detail when it is not a fixed one, as written
    to_state   TEXT GENERATED ALWAYS AS (CASE ts WHEN 1 THEN 'received' WHEN 2 THEN 'scheduled'
        WHEN 3 THEN 'awaiting_approval' WHEN 4 THEN 'queued' WHEN 5 THEN 'claimed' WHEN 6 THEN 'quoted'
        WHEN 7 THEN 'opening' WHEN 8 THEN 'session_open' WHEN 9 THEN 'starting' WHEN 10 THEN 'payout_started'
        WHEN 11 THEN 'confirming' WHEN 12 THEN 'confirmed' WHEN 13 THEN 'action_required' WHEN 14 THEN 'in_doubt'
        WHEN 15 THEN 'succeeded' WHEN 16 THEN 'failed' WHEN 17 THEN 'cancelled' WHEN 18 THEN 'returned'
        ELSE ts END) VIRTUAL,
    source     TEXT GENERATED ALWAYS AS (CASE src WHEN 21 THEN 'processor' WHEN 22 THEN 'webhook'
        WHEN 23 THEN 'status' WHEN 24 THEN 'report' WHEN 25 THEN 'sweeper' WHEN 26 THEN 'operator'
        WHEN 27 THEN 'ledger' WHEN 28 THEN 'dead_letter' ELSE src END) VIRTUAL
) STRICT;

INSERT INTO moves_0162 (id, bk, row_no, fs, ts, t, src, worker, gen, attempt, session_id, payout_id, idem, error_code,
    reason, hook, hook_type, detail, note)
SELECT id, bk, row_no, fs, ts, t, src, worker, gen, attempt,
    CASE WHEN session_id GLOB 'ps_*' AND 'ps_' || CAST(substr(session_id, 4) AS INTEGER) = session_id THEN CAST(substr(session_id, 4) AS INTEGER) ELSE session_id END,
    CASE WHEN payout_id GLOB 'po_*' AND 'po_' || CAST(substr(payout_id, 4) AS INTEGER) = payout_id THEN CAST(substr(payout_id, 4) AS INTEGER) ELSE payout_id END,
    idem, error_code, reason, hook, hook_type, detail, note FROM moves ORDER BY id;
DROP VIEW transitions;
DROP TABLE moves;
ALTER TABLE moves_0162 RENAME TO moves;

CREATE INDEX moves_row ON moves (bk, row_no);
CREATE INDEX moves_status ON moves (bk, row_no) WHERE source = 'status';
CREATE INDEX moves_action ON moves (bk, row_no) WHERE to_state = 'action_required';

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
    CASE WHEN typeof(m.idem) = 'blob' THEN b.batch_id || '/' || m.row_no || '/' || CAST(m.idem AS TEXT) ELSE m.idem END AS idem_key,
    (SELECT name FROM move_names WHERE k = m.error_code) AS error_code, m.reason AS reason,
    CASE WHEN typeof(m.hook) = 'blob' THEN lower(hex(m.hook)) ELSE m.hook END AS hook_id,
    (SELECT name FROM move_names WHERE k = m.hook_type) AS hook_type,
    CASE WHEN m.detail = 0 THEN m.note ELSE (SELECT name FROM move_names WHERE k = m.detail) END AS detail
FROM moves m JOIN batch_keys b ON b.k = m.bk;

-- A row inserted into the view goes to moves as in 0140, the ids as above.
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
        CASE WHEN substr(new.idem_key, 1, length(p)) = p THEN CAST(substr(new.idem_key, length(p) + 1) AS BLOB)
            ELSE coalesce(new.idem_key, '') END,
        CASE WHEN coalesce(new.error_code, '') = '' THEN 0 ELSE (SELECT k FROM move_names WHERE name = new.error_code) END,
        coalesce(new.reason, ''),
        CASE WHEN length(new.hook_id) = 64 AND lower(hex(unhex(new.hook_id))) = new.hook_id THEN unhex(new.hook_id)
            ELSE coalesce(new.hook_id, '') END,
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

