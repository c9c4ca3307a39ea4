-- The gate's decisions kept compactly (issue 17: ~185 bytes per paid row
-- with their index), as the transitions log was (0140). Nothing is
-- dropped; `gate_checks` becomes a view that reads exactly as the table
-- did (the same columns, the same text):
--   batch_id    an integer key (batch_keys) in the table and its index;
--   decision    1 confirm, 2 cancel, 3 ignore, 4 wait; else the text;
--   observed    the JSON of ledgerapi.Observed with its fixed phrases
--               ('{"amount":{"minor":', ',"currency":"', …) as the bytes
--               1-8 and 14-17 (a BLOB); JSON text never holds those bytes
--               (RFC 8259 escapes every control character in a string and
--               allows only space, tab, CR and LF between tokens), so each
--               reads back as its phrase; a text that holds one is kept as
--               it is (TEXT);
--   source      the code of a source (move_names 21-28), else the text;
--   hook_id     the 32 bytes of a SHA-256 hex id, else the text;
--   hook_type, worker  a key of move_names (0 is ''), added as they come;
--   at          integer nanoseconds since 1970 when that gives back the
--               same text (ledger.formatTime), else the text.
-- The gate (ledger.recordGate) writes gates directly; an INSERT INTO
-- gate_checks goes through the view's trigger.
ALTER TABLE gate_checks RENAME TO gate_checks_0160;

CREATE TABLE gates (
    id           INTEGER PRIMARY KEY,
    bk           INTEGER NOT NULL,   -- batch_keys.k
    row_no       INTEGER NOT NULL,
    session_id   TEXT NOT NULL,
    payout_id    TEXT NOT NULL,
    decision     ANY NOT NULL,       -- code, or text
    reason       TEXT NOT NULL,
    observed     ANY NOT NULL,       -- BLOB: the JSON with its phrases as bytes; TEXT: as written
    confirm_info TEXT NOT NULL,
    tcn          TEXT NOT NULL,
    src          ANY NOT NULL,       -- source: code, or text
    hook         ANY NOT NULL,       -- BLOB: the SHA-256 the hex id spells; TEXT: the id
    hook_type    INTEGER NOT NULL,   -- move_names.k
    worker       INTEGER NOT NULL,   -- move_names.k
    t            ANY NOT NULL,       -- at: Unix nanoseconds, or text
    hook_seq     INTEGER NOT NULL
) STRICT;
CREATE INDEX gates_row ON gates (bk, row_no);

CREATE VIEW gate_checks AS
SELECT g.id AS id, b.batch_id AS batch_id, g.row_no AS row_no, g.session_id AS session_id, g.payout_id AS payout_id,
    CASE g.decision WHEN 1 THEN 'confirm' WHEN 2 THEN 'cancel' WHEN 3 THEN 'ignore' WHEN 4 THEN 'wait' ELSE g.decision END AS decision,
    g.reason AS reason,
    CASE WHEN typeof(g.observed) = 'blob' THEN replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(CAST(g.observed AS TEXT), char(1), '{"amount":{"minor":'), char(2), ',"currency":"'), char(3), '"},"recipient":"'), char(4), '","token":"'), char(5), '"},"token":"'), char(6), '"}'), char(7), '","last4":"'), char(8), '"},"last4":"'), char(14), '","fx_rate":"'), char(15), '","commission":{"minor":'), char(16), '"},"source":{"minor":'), char(17), '"},"destination":{"minor":')
        ELSE g.observed END AS observed,
    g.confirm_info AS confirm_info, g.tcn AS tcn,
    CASE g.src WHEN 21 THEN 'processor' WHEN 22 THEN 'webhook' WHEN 23 THEN 'status' WHEN 24 THEN 'report'
        WHEN 25 THEN 'sweeper' WHEN 26 THEN 'operator' WHEN 27 THEN 'ledger' WHEN 28 THEN 'dead_letter' ELSE g.src END AS source,
    CASE WHEN typeof(g.hook) = 'blob' THEN lower(hex(g.hook)) ELSE g.hook END AS hook_id,
    (SELECT name FROM move_names WHERE k = g.hook_type) AS hook_type,
    (SELECT name FROM move_names WHERE k = g.worker) AS worker,
    CASE WHEN typeof(g.t) = 'integer'
        THEN strftime('%Y-%m-%dT%H:%M:%S', g.t / 1000000000, 'unixepoch') || printf('.%09dZ', g.t % 1000000000)
        ELSE g.t END AS at,
    g.hook_seq AS hook_seq
FROM gates g JOIN batch_keys b ON b.k = g.bk;

-- A row inserted into the view goes to gates, each value as above (a time
-- by its shape and one strftime back, as in 0140's trigger; the phrases
-- in the order ledger.observedKey replaces them).
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
        CASE WHEN length(new.hook_id) = 64 AND lower(hex(unhex(new.hook_id))) = new.hook_id THEN unhex(new.hook_id)
            ELSE coalesce(new.hook_id, '') END,
        CASE WHEN coalesce(new.hook_type, '') = '' THEN 0 ELSE (SELECT k FROM move_names WHERE name = new.hook_type) END,
        CASE WHEN coalesce(new.worker, '') = '' THEN 0 ELSE (SELECT k FROM move_names WHERE name = new.worker) END,
        CASE WHEN typeof(e) = 'integer' AND e >= 0 AND strftime('%Y-%m-%dT%H:%M:%S', e / 1000000000, 'unixepoch') = substr(new.at, 1, 19)
            THEN e ELSE new.at END,
        coalesce(new.hook_seq, 0)
    FROM (SELECT max(CASE WHEN new.at GLOB '[12][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]Z'
            THEN unixepoch(substr(new.at, 1, 19)) * 1000000000 + CAST(substr(new.at, 21, 9) AS INTEGER) END) AS e);
END;

-- ledger archive prunes a batch's gate checks through gates; a DELETE here too.
CREATE TRIGGER gate_checks_delete INSTEAD OF DELETE ON gate_checks BEGIN
    DELETE FROM gates WHERE id = old.id;
END;

-- The gate checks as they were, in id order.
INSERT INTO gate_checks (id, batch_id, row_no, session_id, payout_id, decision, reason, observed, confirm_info, tcn, source,
    hook_id, hook_type, worker, at, hook_seq)
    SELECT id, batch_id, row_no, session_id, payout_id, decision, reason, observed, confirm_info, tcn, source,
    hook_id, hook_type, worker, at, hook_seq FROM gate_checks_0160 ORDER BY id;
DROP TABLE gate_checks_0160;
