-- The verified webhooks kept more compactly (issue 17: with their indexes
-- they were a quarter of ledger.db): hook_events holds each webhook's id as
-- the 32 bytes of the SHA-256 its hex spells (else the text), in the table
-- and its unique index, and the time hookrelay received it as integer
-- nanoseconds since 1970 when that gives back the same text
-- (ledger.formatTime; else the text). `bank_events` becomes a view that reads exactly as the
-- table did (hook_id and received_at are hook_events' generated
-- columns); an INSERT INTO bank_events goes through its trigger.
-- The ledger's own writer (ledger.recordHook) writes hook_events directly.
CREATE TABLE hook_events (
    id             INTEGER PRIMARY KEY,
    h              ANY NOT NULL UNIQUE,         -- BLOB: the SHA-256 the hex id spells; TEXT: the id
    type           TEXT NOT NULL,
    session_id     TEXT NOT NULL DEFAULT '',
    session_status TEXT NOT NULL DEFAULT '',
    payout_id      TEXT NOT NULL DEFAULT '',
    payout_status  TEXT NOT NULL DEFAULT '',
    amount_minor   INTEGER,
    currency       TEXT NOT NULL DEFAULT '',
    fee_minor      INTEGER,
    fee_currency   TEXT NOT NULL DEFAULT '',
    error_code     TEXT NOT NULL DEFAULT '',
    error_text     TEXT NOT NULL DEFAULT '',
    ref_batch      TEXT NOT NULL DEFAULT '',
    ref_row        INTEGER,
    ref_reference  TEXT NOT NULL DEFAULT '',
    stream_seq     INTEGER NOT NULL,
    received       ANY NOT NULL,                -- received_at: Unix nanoseconds, or text
    recorded_at    TEXT NOT NULL,               -- as text: the report's covering index holds it
    body           TEXT NOT NULL DEFAULT '',
    body_z         BLOB,
    hook_id        TEXT GENERATED ALWAYS AS (CASE WHEN typeof(h) = 'blob' THEN lower(hex(h)) ELSE h END) VIRTUAL,
    received_at    TEXT GENERATED ALWAYS AS (CASE WHEN typeof(received) = 'integer'
        THEN strftime('%Y-%m-%dT%H:%M:%S', received / 1000000000, 'unixepoch') || printf('.%09dZ', received % 1000000000)
        ELSE received END) VIRTUAL
) STRICT;

-- The webhooks as they were, in the order they were recorded.
INSERT INTO hook_events (h, type, session_id, session_status, payout_id, payout_status, amount_minor, currency,
    fee_minor, fee_currency, error_code, error_text, ref_batch, ref_row, ref_reference, stream_seq, received, recorded_at,
    body, body_z)
SELECT CASE WHEN length(hook_id) = 64 AND lower(hex(unhex(hook_id))) = hook_id THEN unhex(hook_id) ELSE hook_id END,
    type, session_id, session_status, payout_id, payout_status, amount_minor, currency,
    fee_minor, fee_currency, error_code, error_text, ref_batch, ref_row, ref_reference, stream_seq,
    CASE WHEN typeof(r) = 'integer' AND strftime('%Y-%m-%dT%H:%M:%S', r / 1000000000, 'unixepoch')
        || printf('.%09dZ', r % 1000000000) = received_at THEN r ELSE received_at END,
    recorded_at, body, body_z
FROM (SELECT *, unixepoch(substr(received_at, 1, 19)) * 1000000000 + CAST(substr(received_at, 21, 9) AS INTEGER) AS r
    FROM bank_events ORDER BY rowid);
DROP TABLE bank_events;

-- The indexes the table had (an index holding a generated column does not
-- cover a query; recorded_at stays text so that the report's still does).
CREATE INDEX hook_events_session ON hook_events (session_id);
CREATE INDEX hook_events_ref ON hook_events (ref_batch, ref_row);
CREATE INDEX hook_events_finished ON hook_events (ref_batch, ref_row, stream_seq, session_id, type, payout_status,
    amount_minor, currency, error_code, recorded_at)
    WHERE type IN ('payment_finished', 'payment_refunded');

CREATE VIEW bank_events AS SELECT hook_id, type, session_id, session_status, payout_id, payout_status, amount_minor,
    currency, fee_minor, fee_currency, error_code, error_text, ref_batch, ref_row, ref_reference, stream_seq,
    received_at, recorded_at, body, body_z FROM hook_events;

CREATE TRIGGER bank_events_insert INSTEAD OF INSERT ON bank_events BEGIN
    INSERT INTO hook_events (h, type, session_id, session_status, payout_id, payout_status, amount_minor, currency,
        fee_minor, fee_currency, error_code, error_text, ref_batch, ref_row, ref_reference, stream_seq, received, recorded_at,
        body, body_z)
    SELECT CASE WHEN length(new.hook_id) = 64 AND lower(hex(unhex(new.hook_id))) = new.hook_id THEN unhex(new.hook_id)
            ELSE new.hook_id END,
        new.type, coalesce(new.session_id, ''), coalesce(new.session_status, ''), coalesce(new.payout_id, ''),
        coalesce(new.payout_status, ''), new.amount_minor, coalesce(new.currency, ''), new.fee_minor,
        coalesce(new.fee_currency, ''), coalesce(new.error_code, ''), coalesce(new.error_text, ''),
        coalesce(new.ref_batch, ''), new.ref_row, coalesce(new.ref_reference, ''), new.stream_seq,
        CASE WHEN typeof(r) = 'integer' AND strftime('%Y-%m-%dT%H:%M:%S', r / 1000000000, 'unixepoch')
            || printf('.%09dZ', r % 1000000000) = new.received_at THEN r ELSE new.received_at END,
        new.recorded_at, coalesce(new.body, ''), new.body_z
    FROM (SELECT unixepoch(substr(new.received_at, 1, 19)) * 1000000000 + CAST(substr(new.received_at, 21, 9) AS INTEGER) AS r);
END;

CREATE TRIGGER bank_events_delete INSTEAD OF DELETE ON bank_events BEGIN
    DELETE FROM hook_events WHERE h = CASE WHEN length(old.hook_id) = 64 AND lower(hex(unhex(old.hook_id))) = old.hook_id
        THEN unhex(old.hook_id) ELSE old.hook_id END;
END;
