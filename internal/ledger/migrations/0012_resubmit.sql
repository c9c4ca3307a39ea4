-- Resubmitting failed rows (issue 11): a child batch of a parent's failed
-- rows, linked both ways. A child row pays from the parent's intake
-- message (its card number sealed for the parent's row), under its own
-- idempotency keys.

ALTER TABLE batches ADD COLUMN parent_batch TEXT NOT NULL DEFAULT '';
-- rows.parent_*: the row this one resubmits.
ALTER TABLE rows ADD COLUMN parent_batch TEXT NOT NULL DEFAULT '';
ALTER TABLE rows ADD COLUMN parent_row INTEGER NOT NULL DEFAULT 0;
-- rows.src_*: the row its intake message (intake_seq) names, when it is not
-- this row: the first row of a chain of resubmits.
ALTER TABLE rows ADD COLUMN src_batch TEXT NOT NULL DEFAULT '';
ALTER TABLE rows ADD COLUMN src_row INTEGER NOT NULL DEFAULT 0;
-- rows.resubmitted_*: the child row a failed row went to (once only).
ALTER TABLE rows ADD COLUMN resubmitted_to TEXT NOT NULL DEFAULT '';
ALTER TABLE rows ADD COLUMN resubmitted_row INTEGER NOT NULL DEFAULT 0;
