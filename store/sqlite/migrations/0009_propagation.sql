-- Propagation bookkeeping (SQLite). Keep in step with the PostgreSQL file.
-- One row per downstream target: how far in the outbox it is delivered,
-- and the lease that lets one dispatcher (one replica) deliver it.
CREATE TABLE propagation_targets (
    name              TEXT PRIMARY KEY,
    cursor_seq        INTEGER NOT NULL DEFAULT 0,
    lease_owner       TEXT,
    lease_until       TEXT,
    last_error        TEXT,
    last_error_at     TEXT,
    delivered_at      TEXT,
    delivered_through TEXT
);
-- What each target last wrote for each account: its remote id and the hash
-- of the state written, so that a change that leaves the target's view
-- unchanged writes nothing.
CREATE TABLE propagation_remotes (
    target     TEXT NOT NULL,
    account_id TEXT NOT NULL,
    remote_id  TEXT NOT NULL,
    hash       TEXT NOT NULL,
    retired_at TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (target, account_id)
);
CREATE INDEX propagation_remotes_retired ON propagation_remotes (target, retired_at) WHERE retired_at IS NOT NULL;
-- Changes a target refused too often: one per account (account targets)
-- or per outbox event (event targets).
CREATE TABLE propagation_dead_letters (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    target     TEXT NOT NULL,
    account_id TEXT,
    seq        INTEGER,
    event_type TEXT NOT NULL,
    attempts   INTEGER NOT NULL,
    last_error TEXT NOT NULL,
    retry      INTEGER NOT NULL DEFAULT 0 CHECK (retry IN (0, 1)),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CHECK ((account_id IS NULL) <> (seq IS NULL))
);
CREATE UNIQUE INDEX propagation_dead_account ON propagation_dead_letters (target, account_id) WHERE account_id IS NOT NULL;
CREATE UNIQUE INDEX propagation_dead_seq ON propagation_dead_letters (target, seq) WHERE seq IS NOT NULL;
