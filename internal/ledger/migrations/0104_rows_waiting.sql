-- Rows waiting for the bank's word, by when they last moved: the sweeper's
-- polls and deadlines read these without walking the rows that wait in
-- line for a processor (rows_live holds those too: a sweep over a batch of
-- 20k queued rows took 55 ms in the writer's transaction, issue 17).
CREATE INDEX rows_waiting ON rows (moved_at)
    WHERE state IN ('payout_started', 'confirming', 'confirmed', 'action_required', 'in_doubt');

-- rows_live (every live row by moved_at) has no reader left: the rows
-- before the bank are found by rows_job_seq, those after by rows_waiting.
DROP INDEX rows_live;
