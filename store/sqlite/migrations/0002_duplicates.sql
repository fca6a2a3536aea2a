-- Duplicate detection (SQLite). Keep in step with the PostgreSQL file.
-- blocking_keys holds identity.BlockingKeys of every live account, rewritten
-- by the store when a transaction that changed the account (or its e-mails)
-- commits; candidates are the accounts sharing a key.
CREATE TABLE blocking_keys (
    key        TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    PRIMARY KEY (key, account_id)
);
CREATE INDEX blocking_keys_account ON blocking_keys (account_id);

-- "Not a duplicate" decisions, one per unordered pair (account_a < account_b).
CREATE TABLE duplicate_decisions (
    account_a  TEXT NOT NULL REFERENCES accounts (id),
    account_b  TEXT NOT NULL REFERENCES accounts (id),
    decision   TEXT NOT NULL CHECK (decision IN ('not_duplicate')),
    actor      TEXT NOT NULL,
    decided_at TEXT NOT NULL,
    PRIMARY KEY (account_a, account_b),
    CHECK (account_a < account_b)
);

-- Accounts written before this migration get their keys from
-- `canonid duplicates --reindex`.
