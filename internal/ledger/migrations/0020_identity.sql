-- People, roles, API tokens, the approval policy, approvals and the audit
-- log (issue 12). Users and tokens are read on every authenticated
-- request; the audit log is append-only and hash-chained (auth.ChainHash).

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE COLLATE NOCASE,
    roles         TEXT NOT NULL,                -- auth.Roles: "checker,maker"
    password_hash TEXT NOT NULL DEFAULT '',     -- argon2id, encoded; '' signs in with tokens only
    totp_secret   TEXT NOT NULL DEFAULT '',     -- base32; '' has no second factor
    disabled_at   TEXT,
    created_at    TEXT NOT NULL,
    created_by    TEXT NOT NULL DEFAULT '',
    last_sign_in  TEXT
) STRICT;

CREATE TABLE tokens (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    name       TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,            -- auth.HashToken: hex SHA-256 of the token; the token itself is never stored
    hint       TEXT NOT NULL,                   -- "prt_Ab3xY…"
    roles      TEXT NOT NULL,                   -- its scope
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL DEFAULT '',
    last_used  TEXT,
    revoked_at TEXT,
    revoked_by TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE UNIQUE INDEX tokens_live_name ON tokens (user_id, name) WHERE revoked_at IS NULL;

-- policies: every version of the approval policy; a change is a new row.
CREATE TABLE policies (
    version    INTEGER PRIMARY KEY,
    body       TEXT NOT NULL,                   -- auth.Policy as JSON
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL
) STRICT;

CREATE TRIGGER policies_no_update BEFORE UPDATE ON policies
BEGIN SELECT RAISE(ABORT, 'a policy version is never changed: save a new one'); END;
CREATE TRIGGER policies_no_delete BEFORE DELETE ON policies
BEGIN SELECT RAISE(ABORT, 'a policy version is never deleted'); END;

-- approvals: each checker's decision on a batch, with what they were shown.
CREATE TABLE approvals (
    batch_id    TEXT NOT NULL REFERENCES batches (id),
    user_id     INTEGER NOT NULL REFERENCES users (id),
    user_name   TEXT NOT NULL,
    decision    TEXT NOT NULL,                  -- approve | reject
    file_sha256 TEXT NOT NULL,
    totals      TEXT NOT NULL,                  -- JSON {"RUB": minor, ...} the checker was shown
    reason      TEXT NOT NULL DEFAULT '',
    at          TEXT NOT NULL,
    PRIMARY KEY (batch_id, user_id)
) STRICT;

ALTER TABLE batches ADD COLUMN uploaded_by TEXT NOT NULL DEFAULT '';   -- the manifest's uploader ('' for a component's upload)
ALTER TABLE batches ADD COLUMN uploader_id INTEGER;                    -- users.id
ALTER TABLE batches ADD COLUMN policy_version INTEGER;                 -- the policy the batch was judged by (0: the default)
ALTER TABLE batches ADD COLUMN approvals_required INTEGER NOT NULL DEFAULT 0;
ALTER TABLE batches ADD COLUMN approvals_given INTEGER NOT NULL DEFAULT 0;
ALTER TABLE batches ADD COLUMN approval_reasons TEXT NOT NULL DEFAULT ''; -- JSON list: why it needs approval
ALTER TABLE batches ADD COLUMN approval_expires_at TEXT;

-- audit: every human action. Append-only: no update or delete path in
-- payrun, refused by triggers, and each entry's hash covers the previous
-- one's, so a change made around payrun breaks the chain.
CREATE TABLE audit (
    seq       INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    user_id   INTEGER NOT NULL DEFAULT 0,
    user_name TEXT NOT NULL,
    via       TEXT NOT NULL,
    remote    TEXT NOT NULL DEFAULT '',
    action    TEXT NOT NULL,
    batch_id  TEXT NOT NULL DEFAULT '',
    target    TEXT NOT NULL DEFAULT '',
    outcome   TEXT NOT NULL,
    detail    TEXT NOT NULL DEFAULT '',
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
) STRICT;

CREATE INDEX audit_batch ON audit (batch_id, seq) WHERE batch_id <> '';
CREATE INDEX audit_at ON audit (at);

CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
