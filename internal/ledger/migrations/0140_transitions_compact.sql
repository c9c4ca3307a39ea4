-- The transitions log kept compactly (issue 17: it was half of ledger.db,
-- 1.7 KB of 3.6 KB per paid row with its index). Nothing is dropped; each
-- value is stored in fewer bytes, and `transitions` becomes a view that
-- reads exactly as the table did (the same columns, the same text), so
-- every reader and every INSERT INTO transitions stay as they were:
--   batch_id    an integer key (batch_keys) in the table and its indexes;
--   states, source  small integers (codes 1-18 and 21-28 below; any other
--               value is kept as text);
--   at          integer nanoseconds since 1970 when that gives back the
--               same text (ledger.formatTime), else the text;
--   hook_id     the 32 bytes of a SHA-256 hex id, else the text;
--   idem_key    the part after '<batch>/<row>/' (a BLOB of its UTF-8), else
--               the text (our keys name their row);
--   worker, error_code, hook_type: a key of move_names (0 is ''), added
--               as they come: words our programs and the bank write, never
--               what a person typed;
--   detail      a key of move_names when it is one of the fixed details
--               seeded below (a closed list: 'released', the fence's
--               'sending …'), else 0 and the detail itself in note: a
--               person's reason ("cancelled by dave: …"), an error's text,
--               anything with a row's values stays in its own move, and
--               goes with it when its batch is archived and pruned.

-- batch_keys: the integer key of each batch id in moves.
CREATE TABLE batch_keys (
    k        INTEGER PRIMARY KEY,
    batch_id TEXT NOT NULL UNIQUE
) STRICT;

-- move_names: the words moves refers to by key. 1-18 are the row states,
-- 21-28 the sources (ledgerapi.Source*), fixed: the generated columns of
-- moves read them without this table; 100-999 the fixed details (the only
-- details interned; none is added later). Workers, error codes and hook
-- types are added as they come (keys from 1000).
CREATE TABLE move_names (
    k    INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
) STRICT;
INSERT INTO move_names (k, name) VALUES (0, ''),
    (1, 'received'), (2, 'scheduled'), (3, 'awaiting_approval'), (4, 'queued'), (5, 'claimed'), (6, 'quoted'),
    (7, 'opening'), (8, 'session_open'), (9, 'starting'), (10, 'payout_started'), (11, 'confirming'),
    (12, 'confirmed'), (13, 'action_required'), (14, 'in_doubt'), (15, 'succeeded'), (16, 'failed'),
    (17, 'cancelled'), (18, 'returned'),
    (21, 'processor'), (22, 'webhook'), (23, 'status'), (24, 'report'), (25, 'sweeper'), (26, 'operator'),
    (27, 'ledger'), (28, 'dead_letter'),
    (100, 'released'), (101, 'sending session/create'), (102, 'sending session/init/payout'),
    (103, 'sending multi/init/payment'), (104, 'sending session/start/payout'), (105, 'card wait over'),
    (106, 'outcome of attempt unknown; new attempt'),
    (1000, 'ready_to_confirm'), (1001, 'payment_finished');

-- moves: the transitions log itself (one entry per transition, id as before).
CREATE TABLE moves (
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
    session_id TEXT NOT NULL,
    payout_id  TEXT NOT NULL,
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

-- The indexes the table had, by batch key (the partial ones on the same
-- generated columns the readers name, so their queries still use them).
-- Only source and to_state are generated columns, for these indexes: an
-- INSERT computes every generated column of a STRICT table (to check its
-- type), and from_state's and at's decoding (strftime, printf) on each
-- insert cost more than the rest of the row; the view decodes them.
CREATE INDEX moves_row ON moves (bk, row_no);
CREATE INDEX moves_status ON moves (bk, row_no) WHERE source = 'status';
CREATE INDEX moves_action ON moves (bk, row_no) WHERE to_state = 'action_required';

-- The log as it was: the table makes way for the view.
ALTER TABLE transitions RENAME TO transitions_0139;

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
    m.attempt AS attempt, m.session_id AS session_id, m.payout_id AS payout_id,
    CASE WHEN typeof(m.idem) = 'blob' THEN b.batch_id || '/' || m.row_no || '/' || CAST(m.idem AS TEXT) ELSE m.idem END AS idem_key,
    (SELECT name FROM move_names WHERE k = m.error_code) AS error_code, m.reason AS reason,
    CASE WHEN typeof(m.hook) = 'blob' THEN lower(hex(m.hook)) ELSE m.hook END AS hook_id,
    (SELECT name FROM move_names WHERE k = m.hook_type) AS hook_type,
    CASE WHEN m.detail = 0 THEN m.note ELSE (SELECT name FROM move_names WHERE k = m.detail) END AS detail
FROM moves m JOIN batch_keys b ON b.k = m.bk;

-- A row inserted into the view goes to moves, each value as above (the
-- INSERTs name the columns they fill; the others read '' as the table's
-- defaults did).
-- The time: the fixed-width text ledger.formatTime writes (checked by its
-- shape, then by one strftime back) is read once by unixepoch in the inner
-- SELECT (an aggregate, so that it is not flattened into each use); any
-- other text is kept as it is. States and sources by CASE, not a lookup.
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
        new.gen, new.attempt, coalesce(new.session_id, ''), coalesce(new.payout_id, ''),
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

-- ledger archive prunes a batch's transitions by DELETE.
CREATE TRIGGER transitions_delete INSTEAD OF DELETE ON transitions BEGIN
    DELETE FROM moves WHERE id = old.id;
END;

-- The log as it was, moved over in id order.
INSERT INTO transitions (id, batch_id, row_no, from_state, to_state, at, source, worker, gen, attempt, session_id,
    payout_id, idem_key, error_code, reason, hook_id, hook_type, detail)
    SELECT id, batch_id, row_no, from_state, to_state, at, source, worker, gen, attempt, session_id,
    payout_id, idem_key, error_code, reason, hook_id, hook_type, detail FROM transitions_0139 ORDER BY id;
DROP TABLE transitions_0139;
