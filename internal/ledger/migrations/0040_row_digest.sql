-- Card numbers are sealed to the processors' public key (issue 16), which
-- is randomized, so a row seen again is compared by the keyed digest of its
-- plaintext fields its message carries (rows.row_digest, 32 bytes; NULL
-- for rows ingested before, which are compared by rows.digest, the
-- SHA-256 of the message, as the processor still checks). A card row also
-- carries the card's keyed fingerprint (32 hex characters, NULL for other
-- rows and older ones): the same card has the same one in every batch.
ALTER TABLE rows ADD COLUMN row_digest BLOB;
ALTER TABLE rows ADD COLUMN card_fingerprint TEXT;
