-- Propagation bookkeeping (PostgreSQL). Keep in step with the SQLite file.
-- One row per downstream target: how far in the outbox it is delivered,
-- and the lease that lets one dispatcher (one replica) deliver it.
CREATE TABLE propagation_targets (
    name              TEXT PRIMARY KEY,
    cursor_seq        BIGINT NOT NULL DEFAULT 0,
    lease_owner       TEXT,
    lease_until       TIMESTAMPTZ,
    last_error        TEXT,
    last_error_at     TIMESTAMPTZ,
    delivered_at      TIMESTAMPTZ,
    delivered_through TIMESTAMPTZ
);
-- What each target last wrote for each account: its remote id and the hash
-- of the state written, so that a change that leaves the target's view
-- unchanged writes nothing.
CREATE TABLE propagation_remotes (
    target     TEXT NOT NULL,
    account_id TEXT NOT NULL,
    remote_id  TEXT NOT NULL,
    hash       TEXT NOT NULL,
    retired_at TIMESTAMPTZ,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (target, account_id)
);
CREATE INDEX propagation_remotes_retired ON propagation_remotes (target, retired_at) WHERE retired_at IS NOT NULL;
-- Changes a target refused too often: one per account (account targets)
-- or per outbox event (event targets).
CREATE TABLE propagation_dead_letters (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    target     TEXT NOT NULL,
    account_id TEXT,
    seq        BIGINT,
    event_type TEXT NOT NULL,
    attempts   INTEGER NOT NULL,
    last_error TEXT NOT NULL,
    retry      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    CHECK ((account_id IS NULL) <> (seq IS NULL))
);
CREATE UNIQUE INDEX propagation_dead_account ON propagation_dead_letters (target, account_id) WHERE account_id IS NOT NULL;
CREATE UNIQUE INDEX propagation_dead_seq ON propagation_dead_letters (target, seq) WHERE seq IS NOT NULL;
