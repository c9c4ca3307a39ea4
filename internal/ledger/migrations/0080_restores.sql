-- A ledger brought back from its replica (`ledger restore`, issue 16). The
-- replica may lack the last moments before the disk was lost; the first
-- `ledger run` after a restore replays what NATS still holds of them before
-- it serves anything (Service.replayAfterRestore) and marks the restore
-- replayed.
CREATE TABLE restores (
	id          INTEGER PRIMARY KEY,
	restored_at TEXT NOT NULL,
	replica     TEXT NOT NULL,
	last_write  TEXT NOT NULL, -- the newest time the restored database had recorded
	replayed_at TEXT           -- set by the first ledger that replayed after it
) STRICT;
