-- The bank sessions kept compactly (issue 17: ~217 bytes per paid row with
-- their two indexes), as the transitions log was (0140). Nothing is
-- dropped; `sessions` becomes a view that reads exactly as the table did
-- (the same columns, the same text):
--   session_id  as it was, the table's key (WITHOUT ROWID: no second copy
--               of it in a unique index);
--   batch_id    an integer key (batch_keys) in the table and its index;
--   role        1 row, 2 abandoned, 3 foreign, 4 cancelled; any other
--               value as text;
--   last_status the code of a row state (move_names 1-18), else the text;
--   first_seen, updated_at  integer nanoseconds since 1970 when that gives
--               back the same text (ledger.formatTime), else the text.
-- The ledger's writer (ledger.recordSession) writes sess directly; an
-- INSERT INTO sessions goes through the view's trigger.
-- The table makes way for the view.
ALTER TABLE sessions RENAME TO sessions_0159;

CREATE TABLE sess (
    session_id  TEXT PRIMARY KEY,
    bk          INTEGER NOT NULL,   -- batch_keys.k
    row_no      INTEGER NOT NULL,
    attempt     INTEGER NOT NULL,
    role        ANY NOT NULL,       -- code, or text
    status      ANY NOT NULL,       -- last_status: code, or text
    first       ANY NOT NULL,       -- first_seen: Unix nanoseconds, or text
    updated     ANY NOT NULL        -- updated_at: Unix nanoseconds, or text
) STRICT, WITHOUT ROWID;
CREATE INDEX sess_row ON sess (bk, row_no);

CREATE VIEW sessions AS
SELECT s.session_id AS session_id, b.batch_id AS batch_id, s.row_no AS row_no, s.attempt AS attempt,
    CASE s.role WHEN 1 THEN 'row' WHEN 2 THEN 'abandoned' WHEN 3 THEN 'foreign' WHEN 4 THEN 'cancelled' ELSE s.role END AS role,
    CASE s.status WHEN 1 THEN 'received' WHEN 2 THEN 'scheduled'
        WHEN 3 THEN 'awaiting_approval' WHEN 4 THEN 'queued' WHEN 5 THEN 'claimed' WHEN 6 THEN 'quoted'
        WHEN 7 THEN 'opening' WHEN 8 THEN 'session_open' WHEN 9 THEN 'starting' WHEN 10 THEN 'payout_started'
        WHEN 11 THEN 'confirming' WHEN 12 THEN 'confirmed' WHEN 13 THEN 'action_required' WHEN 14 THEN 'in_doubt'
        WHEN 15 THEN 'succeeded' WHEN 16 THEN 'failed' WHEN 17 THEN 'cancelled' WHEN 18 THEN 'returned'
        ELSE s.status END AS last_status,
    CASE WHEN typeof(s.first) = 'integer'
        THEN strftime('%Y-%m-%dT%H:%M:%S', s.first / 1000000000, 'unixepoch') || printf('.%09dZ', s.first % 1000000000)
        ELSE s.first END AS first_seen,
    CASE WHEN typeof(s.updated) = 'integer'
        THEN strftime('%Y-%m-%dT%H:%M:%S', s.updated / 1000000000, 'unixepoch') || printf('.%09dZ', s.updated % 1000000000)
        ELSE s.updated END AS updated_at
FROM sess s JOIN batch_keys b ON b.k = s.bk;

-- A row inserted into the view goes to sess, each value as above (a time
-- by its shape and one strftime back, as in 0140's trigger).
CREATE TRIGGER sessions_insert INSTEAD OF INSERT ON sessions BEGIN
    INSERT OR IGNORE INTO batch_keys (batch_id) VALUES (new.batch_id);
    INSERT INTO sess (session_id, bk, row_no, attempt, role, status, first, updated)
    SELECT new.session_id, (SELECT k FROM batch_keys WHERE batch_id = new.batch_id), new.row_no, new.attempt,
        CASE new.role WHEN 'row' THEN 1 WHEN 'abandoned' THEN 2 WHEN 'foreign' THEN 3 WHEN 'cancelled' THEN 4 ELSE new.role END,
        CASE coalesce(new.last_status, '') WHEN 'received' THEN 1 WHEN 'scheduled' THEN 2 WHEN 'awaiting_approval' THEN 3
            WHEN 'queued' THEN 4 WHEN 'claimed' THEN 5 WHEN 'quoted' THEN 6 WHEN 'opening' THEN 7 WHEN 'session_open' THEN 8
            WHEN 'starting' THEN 9 WHEN 'payout_started' THEN 10 WHEN 'confirming' THEN 11 WHEN 'confirmed' THEN 12
            WHEN 'action_required' THEN 13 WHEN 'in_doubt' THEN 14 WHEN 'succeeded' THEN 15 WHEN 'failed' THEN 16
            WHEN 'cancelled' THEN 17 WHEN 'returned' THEN 18 ELSE coalesce(new.last_status, '') END,
        CASE WHEN typeof(f) = 'integer' AND f >= 0 AND strftime('%Y-%m-%dT%H:%M:%S', f / 1000000000, 'unixepoch') = substr(new.first_seen, 1, 19)
            THEN f ELSE new.first_seen END,
        CASE WHEN typeof(u) = 'integer' AND u >= 0 AND strftime('%Y-%m-%dT%H:%M:%S', u / 1000000000, 'unixepoch') = substr(new.updated_at, 1, 19)
            THEN u ELSE new.updated_at END
    FROM (SELECT max(CASE WHEN new.first_seen GLOB '[12][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]Z'
            THEN unixepoch(substr(new.first_seen, 1, 19)) * 1000000000 + CAST(substr(new.first_seen, 21, 9) AS INTEGER) END) AS f,
        max(CASE WHEN new.updated_at GLOB '[12][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]Z'
            THEN unixepoch(substr(new.updated_at, 1, 19)) * 1000000000 + CAST(substr(new.updated_at, 21, 9) AS INTEGER) END) AS u);
END;

-- ledger archive prunes a batch's sessions through sess; a DELETE here too.
CREATE TRIGGER sessions_delete INSTEAD OF DELETE ON sessions BEGIN
    DELETE FROM sess WHERE session_id = old.session_id;
END;

-- The sessions as they were.
INSERT INTO sessions (session_id, batch_id, row_no, attempt, role, last_status, first_seen, updated_at)
    SELECT session_id, batch_id, row_no, attempt, role, last_status, first_seen, updated_at FROM sessions_0159 ORDER BY rowid;
DROP TABLE sessions_0159;
