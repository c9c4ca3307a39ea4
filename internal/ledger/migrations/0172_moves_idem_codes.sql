-- A move's idempotency key in fewer bytes (issue 17: the keys of the
-- calls a payout makes were ~40 bytes per paid row after a 100k-row token
-- batch: "a0/create", "a0/start", "ps_<session>/confirm" after the row's
-- "<batch>/<row>/", which 0140 already leaves out). moves.idem keeps:
--   INTEGER n  the key after "<batch>/<row>/" of the processor's forms
--              (processor.createKey and the others), by n % 8, a = n / 8:
--              1 "a<a>/create", 2 "a<a>/start", 3 "a<a>/init", 4 "init",
--              5 "<session>/confirm", 6 "<session>/cancel", the session
--              being the move's own, kept as its integer (0162); a is the
--              decimal integer that reads back as written;
--   BLOB       any other key after "<batch>/<row>/", as before;
--   TEXT       any other key, as before ('' for none).
-- `transitions` reads idem_key as before.

UPDATE moves SET idem = CASE WHEN CAST(idem AS TEXT) GLOB 'a[0-9]*/create' AND length(CAST(idem AS TEXT)) < 25 AND 'a' || CAST(substr(CAST(idem AS TEXT), 2, length(CAST(idem AS TEXT)) - 8) AS INTEGER) || '/create' = CAST(idem AS TEXT)
                THEN CAST(substr(CAST(idem AS TEXT), 2, length(CAST(idem AS TEXT)) - 8) AS INTEGER) * 8 + 1
            WHEN CAST(idem AS TEXT) GLOB 'a[0-9]*/start' AND length(CAST(idem AS TEXT)) < 24 AND 'a' || CAST(substr(CAST(idem AS TEXT), 2, length(CAST(idem AS TEXT)) - 7) AS INTEGER) || '/start' = CAST(idem AS TEXT)
                THEN CAST(substr(CAST(idem AS TEXT), 2, length(CAST(idem AS TEXT)) - 7) AS INTEGER) * 8 + 2
            WHEN CAST(idem AS TEXT) GLOB 'a[0-9]*/init' AND length(CAST(idem AS TEXT)) < 23 AND 'a' || CAST(substr(CAST(idem AS TEXT), 2, length(CAST(idem AS TEXT)) - 6) AS INTEGER) || '/init' = CAST(idem AS TEXT)
                THEN CAST(substr(CAST(idem AS TEXT), 2, length(CAST(idem AS TEXT)) - 6) AS INTEGER) * 8 + 3
            WHEN CAST(idem AS TEXT) = 'init' THEN 4
            WHEN CASE WHEN typeof(session_id) = 'integer' THEN 'ps_' || session_id ELSE session_id END GLOB 'ps_*' AND 'ps_' || CAST(substr(CASE WHEN typeof(session_id) = 'integer' THEN 'ps_' || session_id ELSE session_id END, 4) AS INTEGER) = CASE WHEN typeof(session_id) = 'integer' THEN 'ps_' || session_id ELSE session_id END AND CAST(idem AS TEXT) = CASE WHEN typeof(session_id) = 'integer' THEN 'ps_' || session_id ELSE session_id END || '/confirm' THEN 5
            WHEN CASE WHEN typeof(session_id) = 'integer' THEN 'ps_' || session_id ELSE session_id END GLOB 'ps_*' AND 'ps_' || CAST(substr(CASE WHEN typeof(session_id) = 'integer' THEN 'ps_' || session_id ELSE session_id END, 4) AS INTEGER) = CASE WHEN typeof(session_id) = 'integer' THEN 'ps_' || session_id ELSE session_id END AND CAST(idem AS TEXT) = CASE WHEN typeof(session_id) = 'integer' THEN 'ps_' || session_id ELSE session_id END || '/cancel' THEN 6
            ELSE CAST(CAST(idem AS TEXT) AS BLOB) END
WHERE typeof(idem) = 'blob';

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
