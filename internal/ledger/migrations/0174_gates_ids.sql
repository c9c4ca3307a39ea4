-- A gate check's session and payout ids in fewer bytes (issue 17: the
-- ids as text, 'ps_' and 'po_' and 12 digits, were ~30 bytes of each gate
-- check, one a paid row after a 100k-row token batch), as moves keeps them
-- (0162): 'ps_' or 'po_' and a decimal integer that reads back as the same
-- text as that integer, kept as the integer; any other id as its text.
-- gate_checks reads as before. gates is rebuilt, every gate check with its
-- id as it was.

CREATE TABLE gates_0174 (
    id           INTEGER PRIMARY KEY,
    bk           INTEGER NOT NULL,   -- batch_keys.k
    row_no       INTEGER NOT NULL,
    session_id   ANY NOT NULL,       -- INTEGER n: 'ps_' || n; TEXT: the id
    payout_id    ANY NOT NULL,       -- INTEGER n: 'po_' || n; TEXT: the id
    decision     ANY NOT NULL,       -- code, or text
    reason       TEXT NOT NULL,
    observed     ANY NOT NULL,       -- BLOB: the JSON with its phrases as bytes; TEXT: as written
    confirm_info TEXT NOT NULL,
    tcn          TEXT NOT NULL,
    src          ANY NOT NULL,       -- source: code, or text
    hook         ANY NOT NULL,       -- INTEGER: hook_events.id (0171); BLOB: the SHA-256 the hex id spells; TEXT: the id
    hook_type    INTEGER NOT NULL,   -- move_names.k
    worker       INTEGER NOT NULL,   -- move_names.k
    t            ANY NOT NULL,       -- at: Unix nanoseconds, or text
    hook_seq     INTEGER NOT NULL
) STRICT;

INSERT INTO gates_0174 (id, bk, row_no, session_id, payout_id, decision, reason, observed, confirm_info, tcn, src, hook, hook_type, worker, t, hook_seq)
SELECT id, bk, row_no, CASE WHEN session_id GLOB 'ps_*' AND 'ps_' || CAST(substr(session_id, 4) AS INTEGER) = session_id
            THEN CAST(substr(session_id, 4) AS INTEGER) ELSE session_id END,
    CASE WHEN payout_id GLOB 'po_*' AND 'po_' || CAST(substr(payout_id, 4) AS INTEGER) = payout_id
            THEN CAST(substr(payout_id, 4) AS INTEGER) ELSE payout_id END, decision, reason, observed, confirm_info, tcn, src, hook, hook_type, worker, t, hook_seq
FROM gates ORDER BY id;
-- The views that read gates go and come back (0173) and hook_events_refs,
-- which updates gates, with them.
DROP VIEW gate_checks;
DROP TRIGGER hook_events_refs;
DROP TABLE gates;
ALTER TABLE gates_0174 RENAME TO gates;
CREATE INDEX gates_row ON gates (bk, row_no);

CREATE TRIGGER hook_events_refs BEFORE DELETE ON hook_events BEGIN
    UPDATE moves SET hook = old.h WHERE bk = old.bk AND row_no = old.ref_row AND hook = old.id;
    UPDATE gates SET hook = old.h WHERE bk = old.bk AND row_no = old.ref_row AND hook = old.id;
END;

CREATE VIEW gate_checks AS
SELECT g.id AS id, b.batch_id AS batch_id, g.row_no AS row_no, CASE WHEN typeof(g.session_id) = 'integer' THEN 'ps_' || g.session_id ELSE g.session_id END AS session_id,
    CASE WHEN typeof(g.payout_id) = 'integer' THEN 'po_' || g.payout_id ELSE g.payout_id END AS payout_id,
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
    SELECT new.id, (SELECT k FROM batch_keys WHERE batch_id = new.batch_id), new.row_no, CASE WHEN new.session_id GLOB 'ps_*' AND 'ps_' || CAST(substr(new.session_id, 4) AS INTEGER) = new.session_id
            THEN CAST(substr(new.session_id, 4) AS INTEGER) ELSE new.session_id END,
        CASE WHEN coalesce(new.payout_id, '') GLOB 'po_*' AND 'po_' || CAST(substr(coalesce(new.payout_id, ''), 4) AS INTEGER) = coalesce(new.payout_id, '')
            THEN CAST(substr(coalesce(new.payout_id, ''), 4) AS INTEGER) ELSE coalesce(new.payout_id, '') END,
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
