-- Recipient links (issue 14, seed 000's widget flow): an encrypted_card row
-- uploaded without number_hash waits for its card; a maker issues a link,
-- the recipient enters the card in the bank's tokenization widget on the
-- page the link opens, and the encrypted card lands here.

-- rows.card_wait: 1 while an encrypted_card row has no card yet. The
-- release passes such rows by (they stay received); the capture clears it.
ALTER TABLE rows ADD COLUMN card_wait INTEGER NOT NULL DEFAULT 0;
-- Set at intake without touching the intake's INSERT: an encrypted_card row
-- whose message carries no number_hash has no destination hash.
CREATE TRIGGER rows_card_wait AFTER INSERT ON rows
    WHEN NEW.method = 'encrypted_card' AND NEW.dest_hash = ''
BEGIN
    UPDATE rows SET card_wait = 1 WHERE batch_id = NEW.batch_id AND row_no = NEW.row_no;
END;
CREATE INDEX rows_card_wait ON rows (batch_id, row_no) WHERE card_wait = 1;

-- recipient_links: one row per link issued; the token in the link is
-- signed (link_keys) and names the id; single use is used_at here.
CREATE TABLE recipient_links (
    id          TEXT PRIMARY KEY,            -- 32 hex, random
    batch_id    TEXT NOT NULL,
    row_no      INTEGER NOT NULL,
    issued_by   TEXT NOT NULL,
    issued_at   TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT,
    revoked_at  TEXT                         -- a newer link for the row replaced it
) STRICT;
CREATE INDEX recipient_links_row ON recipient_links (batch_id, row_no, issued_at);

-- link_keys: the HMAC key the ledger signs link tokens with (made on first use).
CREATE TABLE link_keys (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    key  BLOB NOT NULL
) STRICT;

-- row_cards: the encrypted card the bank's widget returned for a row (the
-- bank's hashes, never a card number), with what token/info told of it.
CREATE TABLE row_cards (
    batch_id             TEXT NOT NULL,
    row_no               INTEGER NOT NULL,
    number_hash          TEXT NOT NULL,
    expiration_date_hash TEXT NOT NULL DEFAULT '',
    cardholder_name_hash TEXT NOT NULL DEFAULT '',
    security_code_hash   TEXT NOT NULL DEFAULT '',
    last4                TEXT NOT NULL DEFAULT '',
    brand                TEXT NOT NULL DEFAULT '',
    link_id              TEXT NOT NULL,
    captured_at          TEXT NOT NULL,
    PRIMARY KEY (batch_id, row_no)
) STRICT;
