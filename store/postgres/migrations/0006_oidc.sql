-- OpenID provider and login sessions (PostgreSQL). Keep in step with the
-- SQLite file. Secrets handed out (codes, refresh tokens, session cookies)
-- are stored as their SHA-256 only; lists (scopes, audience, amr) are JSON
-- arrays.

-- An authorization request, from /authorize until its code is exchanged:
-- account_id, auth_time and amr are set at login, code_hash when the code is
-- issued.
CREATE TABLE oidc_auth_requests (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    request    BYTEA NOT NULL,
    account_id TEXT REFERENCES accounts (id),
    auth_time  TIMESTAMPTZ,
    amr        JSONB NOT NULL DEFAULT '[]',
    code_hash  BYTEA,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX oidc_auth_requests_code ON oidc_auth_requests (code_hash) WHERE code_hash IS NOT NULL;
CREATE INDEX oidc_auth_requests_expires ON oidc_auth_requests (expires_at);

-- Access and refresh tokens. Only refresh tokens have a hash; account_id is
-- NULL for client_credentials. family_id groups the tokens of one grant.
CREATE TABLE oidc_tokens (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    hash       BYTEA,
    family_id  TEXT NOT NULL,
    account_id TEXT REFERENCES accounts (id),
    client_id  TEXT NOT NULL,
    scopes     JSONB NOT NULL DEFAULT '[]',
    audience   JSONB NOT NULL DEFAULT '[]',
    amr        JSONB NOT NULL DEFAULT '[]',
    auth_time  TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ,
    CHECK (kind <> 'refresh' OR hash IS NOT NULL)
);
CREATE UNIQUE INDEX oidc_tokens_hash ON oidc_tokens (hash) WHERE hash IS NOT NULL;
CREATE INDEX oidc_tokens_family ON oidc_tokens (family_id);
CREATE INDEX oidc_tokens_account ON oidc_tokens (account_id, client_id) WHERE account_id IS NOT NULL;
CREATE INDEX oidc_tokens_expires ON oidc_tokens (expires_at);

-- Signing keys, shared by the replicas: the unique active_from makes two
-- replicas creating the same next key at once collide. A handful of rows:
-- no index on expires_at.
CREATE TABLE oidc_signing_keys (
    id          TEXT PRIMARY KEY,
    algorithm   TEXT NOT NULL,
    private_key BYTEA NOT NULL,
    public_key  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    active_from TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX oidc_signing_keys_active ON oidc_signing_keys (active_from);

-- Login sessions: the cookie of one browser carries the secret whose
-- SHA-256 is hash.
CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    hash         BYTEA NOT NULL UNIQUE,
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    amr          JSONB NOT NULL DEFAULT '[]',
    auth_time    TIMESTAMPTZ NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    revoked_at   TIMESTAMPTZ
);
CREATE INDEX sessions_account ON sessions (account_id) WHERE revoked_at IS NULL;
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_revoked ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
