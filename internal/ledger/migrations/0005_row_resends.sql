-- rows.resends counts the starts of the current attempt sent again after a
-- poll found that the start never reached its session (at most
-- ledger.maxStartResends); rows.sent_at also records when the last one
-- left. A new attempt clears both.
ALTER TABLE rows ADD COLUMN resends INTEGER NOT NULL DEFAULT 0;
