-- Correlation and connector sync (SQLite). Keep in step with the PostgreSQL file.

-- lookup_keys holds identity.LookupKeys of every live account (verified
-- e-mails, recovery e-mail, national and institutional ids, eppn, name and
-- birth date), rewritten by the store with the blocking keys; connectors
-- and imports find the accounts an incoming identity correlates with here.
CREATE TABLE lookup_keys (
    kind       TEXT NOT NULL,
    value      TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    PRIMARY KEY (kind, value, account_id)
);
CREATE INDEX lookup_keys_account ON lookup_keys (account_id);

-- A link's digest is identity.LinkDigest of its attributes: a sync compares
-- it with the entry it reads without loading the snapshot.
ALTER TABLE links ADD COLUMN digest TEXT NOT NULL DEFAULT '';

-- sync_states is each connector's bookkeeping: where incremental syncs
-- resume, when the last full sync ran, the last run's summary, and the
-- lease that lets one process at a time sync the connector.
CREATE TABLE sync_states (
    connector    TEXT PRIMARY KEY,
    mark         TEXT,
    last_full_at TEXT,
    last_run_at  TEXT,
    last_result  TEXT,
    lease_owner  TEXT NOT NULL DEFAULT '',
    lease_until  TEXT
);

-- Accounts written before this migration get their lookup keys from
-- `canonid duplicates --reindex`.
