-- job_seq: the PAYRUN_JOBS sequence of the row's job of gen job_gen, from
-- the publish acknowledgement (0: published before this migration). The
-- sweeper asks the queue whether that message is still there: a job that
-- waits its turn is not stuck, however long the line (issue 17).
ALTER TABLE rows ADD COLUMN job_seq INTEGER NOT NULL DEFAULT 0;

-- Rows before the bank by their job's sequence: the sweeper finds the few
-- whose job is gone (below the stream's first sequence, or deleted inside
-- it) without reading the whole line.
CREATE INDEX rows_job_seq ON rows (job_seq)
    WHERE state IN ('queued', 'claimed', 'quoted', 'opening', 'session_open', 'starting');
