-- OpenID provider and login sessions (SQLite). Keep in step with the
-- PostgreSQL file. Secrets handed out (codes, refresh tokens, session
-- cookies) are stored as their SHA-256 only; lists (scopes, audience, amr)
-- are JSON arrays.

-- An authorization request, from /authorize until its code is exchanged:
-- account_id, auth_time and amr are set at login, code_hash when the code is
-- issued.
CREATE TABLE oidc_auth_requests (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    request    BLOB NOT NULL,
    account_id TEXT REFERENCES accounts (id),
    auth_time  TEXT,
    amr        TEXT NOT NULL DEFAULT '[]',
    code_hash  BLOB,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE UNIQUE INDEX oidc_auth_requests_code ON oidc_auth_requests (code_hash) WHERE code_hash IS NOT NULL;
CREATE INDEX oidc_auth_requests_expires ON oidc_auth_requests (expires_at);

-- Access and refresh tokens. Only refresh tokens have a hash; account_id is
-- NULL for client_credentials. family_id groups the tokens of one grant.
CREATE TABLE oidc_tokens (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    hash       BLOB,
    family_id  TEXT NOT NULL,
    account_id TEXT REFERENCES accounts (id),
    client_id  TEXT NOT NULL,
    scopes     TEXT NOT NULL DEFAULT '[]',
    audience   TEXT NOT NULL DEFAULT '[]',
    amr        TEXT NOT NULL DEFAULT '[]',
    auth_time  TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT,
    revoked_at TEXT,
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
    private_key BLOB NOT NULL,
    public_key  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    active_from TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE UNIQUE INDEX oidc_signing_keys_active ON oidc_signing_keys (active_from);

-- Login sessions: the cookie of one browser carries the secret whose
-- SHA-256 is hash.
CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    hash         BLOB NOT NULL UNIQUE,
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    amr          TEXT NOT NULL DEFAULT '[]',
    auth_time    TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    revoked_at   TEXT
);
CREATE INDEX sessions_account ON sessions (account_id) WHERE revoked_at IS NULL;
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_revoked ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
