-- The web console (issue 13): pages of batches that stay fast with
-- thousands of them, and the exception queue's work (who looks at an
-- exception, what was said about it, who resolved it and why).

-- The batches list, newest first, by keyset (first_seen_at, id), with or
-- without a status filter: a page is an index range, never a scan.
CREATE INDEX batches_seen ON batches (first_seen_at, id);
CREATE INDEX batches_status_seen ON batches (status, first_seen_at, id);

-- exceptions: the person looking at it, and who resolved it (resolution
-- and closed_at exist: the reason and the time).
ALTER TABLE exceptions ADD COLUMN assignee TEXT NOT NULL DEFAULT '';
ALTER TABLE exceptions ADD COLUMN assigned_at TEXT;
ALTER TABLE exceptions ADD COLUMN resolved_by TEXT NOT NULL DEFAULT '';
CREATE INDEX exceptions_open_category ON exceptions (category, id) WHERE closed_at IS NULL;

-- exception_comments: what people wrote about an exception, in order.
CREATE TABLE exception_comments (
    id           INTEGER PRIMARY KEY,
    exception_id INTEGER NOT NULL REFERENCES exceptions (id),
    user_id      INTEGER NOT NULL DEFAULT 0,
    user_name    TEXT NOT NULL,
    body         TEXT NOT NULL,
    at           TEXT NOT NULL
) STRICT;
CREATE INDEX exception_comments_of ON exception_comments (exception_id, id);
