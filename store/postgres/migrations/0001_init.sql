-- canonid schema, version 1 (PostgreSQL). Keep in step with
-- store/sqlite/migrations/0001_init.sql: same tables, columns and constraints.
-- Timestamps are timestamptz; JSON documents are jsonb; hashes are bytea.

CREATE TABLE accounts (
    id            TEXT PRIMARY KEY,
    status        TEXT NOT NULL CHECK (status IN ('pending_activation', 'pending_validation', 'active', 'suspended', 'merged')),
    login         TEXT UNIQUE,
    given_name    TEXT NOT NULL DEFAULT '',
    family_name   TEXT NOT NULL DEFAULT '',
    display_name  TEXT NOT NULL DEFAULT '',
    birth_date    TEXT NOT NULL DEFAULT '',
    phone         TEXT NOT NULL DEFAULT '',
    attributes    JSONB NOT NULL DEFAULT '{}',
    provenance    JSONB NOT NULL DEFAULT '{}',
    consents      JSONB NOT NULL DEFAULT '{}',
    password_hash TEXT NOT NULL DEFAULT '',
    merged_into   TEXT REFERENCES accounts (id),
    last_login_at TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    version       BIGINT NOT NULL,
    CHECK ((status = 'merged') = (merged_into IS NOT NULL))
);
CREATE INDEX accounts_merged_into ON accounts (merged_into) WHERE merged_into IS NOT NULL;

CREATE TABLE links (
    source      TEXT NOT NULL,
    external_id TEXT NOT NULL,
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    status      TEXT NOT NULL CHECK (status IN ('active', 'gone')),
    attributes  JSONB NOT NULL DEFAULT '{}',
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, external_id)
);
CREATE INDEX links_account ON links (account_id);

-- An address may be pending on several accounts but verified on one only.
CREATE TABLE emails (
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    address     TEXT NOT NULL,
    verified    BOOLEAN NOT NULL,
    is_primary  BOOLEAN NOT NULL,
    source      TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL,
    verified_at TIMESTAMPTZ,
    PRIMARY KEY (account_id, address)
);
CREATE UNIQUE INDEX emails_verified_address ON emails (address) WHERE verified;
CREATE UNIQUE INDEX emails_one_primary ON emails (account_id) WHERE is_primary;
CREATE INDEX emails_address ON emails (address);

CREATE TABLE orgs (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE memberships (
    org_id       TEXT NOT NULL REFERENCES orgs (id),
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    role         TEXT NOT NULL CHECK (role IN ('member', 'org-admin')),
    state        TEXT NOT NULL CHECK (state IN ('pending', 'validated', 'rejected')),
    validated_by TEXT,
    validated_at TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (org_id, account_id)
);
CREATE INDEX memberships_account ON memberships (account_id);

CREATE TABLE one_time_tokens (
    id         TEXT PRIMARY KEY,
    purpose    TEXT NOT NULL,
    hash       BYTEA NOT NULL UNIQUE,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    data       JSONB NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);
CREATE INDEX one_time_tokens_account ON one_time_tokens (account_id) WHERE used_at IS NULL;

CREATE TABLE merges (
    id          TEXT PRIMARY KEY,
    survivor_id TEXT NOT NULL REFERENCES accounts (id),
    retired_id  TEXT NOT NULL REFERENCES accounts (id),
    reason      TEXT NOT NULL CHECK (reason IN ('email', 'key', 'admin', 'rule')),
    actor       TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    moved       JSONB NOT NULL DEFAULT '{}',
    undone_at   TIMESTAMPTZ,
    undone_by   TEXT,
    CHECK (survivor_id <> retired_id)
);
CREATE INDEX merges_survivor ON merges (survivor_id);
-- At most one standing merge per retired account.
CREATE UNIQUE INDEX merges_standing_retired ON merges (retired_id) WHERE undone_at IS NULL;

CREATE TABLE audit_events (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         TIMESTAMPTZ NOT NULL,
    type       TEXT NOT NULL,
    actor      TEXT NOT NULL,
    account_id TEXT,
    org_id     TEXT,
    request_id TEXT,
    data       JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_account ON audit_events (account_id, id) WHERE account_id IS NOT NULL;
CREATE INDEX audit_events_org ON audit_events (org_id, id) WHERE org_id IS NOT NULL;
CREATE INDEX audit_events_type ON audit_events (type, id);

-- Outbox sequence numbers come from outbox_head, bumped in the committing
-- transaction: gapless and in commit order.
CREATE TABLE outbox (
    seq        BIGINT PRIMARY KEY,
    at         TIMESTAMPTZ NOT NULL,
    type       TEXT NOT NULL,
    account_id TEXT,
    org_id     TEXT,
    data       JSONB NOT NULL DEFAULT '{}'
);
CREATE TABLE outbox_head (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);
INSERT INTO outbox_head (id, seq) VALUES (1, 0);

CREATE TABLE api_tokens (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('support', 'scim', 'org-admin')),
    org_id     TEXT REFERENCES orgs (id),
    hash       BYTEA NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ,
    CHECK ((role = 'org-admin') = (org_id IS NOT NULL))
);
CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (name) WHERE revoked_at IS NULL;
