-- The intake counts the rows of a group in batch_counts itself, with one
-- UPSERT per batch, state and currency, instead of the insert trigger's
-- UPSERT per row (issue 17: the trigger cost about a quarter of the SQLite
-- side of intake). batches.counts_by_insert says which batches' rows are
-- counted so: 1 for a batch the intake created since this migration; 0
-- for the others (batches recorded before, batches made in the ledger such
-- as a resubmit's child, rows written by any other statement), whose rows
-- the insert trigger still counts one by one. The update and delete
-- triggers stay as they are.
ALTER TABLE batches ADD COLUMN counts_by_insert INTEGER NOT NULL DEFAULT 0;

DROP TRIGGER batch_counts_insert;
CREATE TRIGGER batch_counts_insert AFTER INSERT ON rows
    WHEN NOT (SELECT b.counts_by_insert FROM batches b WHERE b.id = new.batch_id)
BEGIN
    INSERT INTO batch_counts (batch_id, state, currency, rows, amount_minor, held, on_hold)
        VALUES (new.batch_id, new.state, new.currency, 1, new.amount_minor, new.held, new.stop = 'hold')
        ON CONFLICT (batch_id, state, currency) DO UPDATE SET rows = rows + 1,
            amount_minor = amount_minor + excluded.amount_minor, held = held + excluded.held,
            on_hold = on_hold + excluded.on_hold;
END;
