-- The webhook a move or a gate check answered, by hook_events' integer id
-- where the ledger holds that webhook for that row (issue 17: the 32-byte
-- SHA-256 in moves.hook and gates.hook was ~130 bytes per paid row after a
-- 100k-row token batch: three webhook moves and one gate check a row). The
-- id is kept in hook_events.h (the webhook's own record, migration 0170),
-- so a move or gate check of row r of batch b keeps:
--   INTEGER n  hook_events.id n, a webhook with ref batch b and ref row r
--              (the archive of b copies it, with its id, beside the move);
--   BLOB       the SHA-256 the hex id spells, as before: a webhook the
--              ledger had not recorded yet when the move was written, or
--              that names no row or another; recordHook puts the integer
--              in when it records the webhook (the row's moves by
--              moves_row, its gate checks by gates_row);
--   TEXT       any other id, as before ('' for none).
-- `transitions` and `gate_checks` read hook_id as before (the integer's
-- webhook's hook_id); a webhook deleted from hook_events first gives its
-- id back to the moves and gate checks that name it by the integer
-- (trigger hook_events_refs), so nothing reads NULL.

UPDATE moves SET hook = e.id FROM hook_events e
WHERE typeof(moves.hook) = 'blob' AND substr(e.h, 1, 8) = substr(moves.hook, 1, 8) AND e.h = moves.hook
    AND e.bk = moves.bk AND e.ref_row = moves.row_no;
UPDATE moves SET hook = e.id FROM hook_events e
WHERE typeof(moves.hook) = 'text' AND moves.hook <> '' AND substr(e.h, 1, 8) = substr(moves.hook, 1, 8)
    AND e.h = moves.hook AND e.bk = moves.bk AND e.ref_row = moves.row_no;
UPDATE gates SET hook = e.id FROM hook_events e
WHERE typeof(gates.hook) = 'blob' AND substr(e.h, 1, 8) = substr(gates.hook, 1, 8) AND e.h = gates.hook
    AND e.bk = gates.bk AND e.ref_row = gates.row_no;
UPDATE gates SET hook = e.id FROM hook_events e
WHERE typeof(gates.hook) = 'text' AND gates.hook <> '' AND substr(e.h, 1, 8) = substr(gates.hook, 1, 8)
    AND e.h = gates.hook AND e.bk = gates.bk AND e.ref_row = gates.row_no;

CREATE TRIGGER hook_events_refs BEFORE DELETE ON hook_events BEGIN
    UPDATE moves SET hook = old.h WHERE bk = old.bk AND row_no = old.ref_row AND hook = old.id;
    UPDATE gates SET hook = old.h WHERE bk = old.bk AND row_no = old.ref_row AND hook = old.id;
END;

-- The views and their triggers as 0162 and 0161 made them, but for the
-- webhook's id.
DROP VIEW transitions;
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
        CASE WHEN substr(new.idem_key, 1, length(p)) = p THEN CAST(substr(new.idem_key, length(p) + 1) AS BLOB)
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

DROP VIEW gate_checks;
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
