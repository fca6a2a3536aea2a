-- Batch reads by account (SQLite). The PostgreSQL file makes the same index
-- on links; tables, columns and constraints stay as in PostgreSQL.
--
-- A page of SCIM users, a sync batch or an import batch reads the addresses
-- and links of a few hundred accounts by account id. Through an index on
-- account_id, each row found costs a second search, into the table by
-- rowid; the ids are random, so every such search lands on a page of its
-- own. emails becomes a table stored in the order of its primary key
-- (account_id, address), so an account's addresses are one range of it,
-- and links get an index holding every column of a batch read.
CREATE TABLE emails_by_account (
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    address     TEXT NOT NULL,
    verified    INTEGER NOT NULL CHECK (verified IN (0, 1)),
    is_primary  INTEGER NOT NULL CHECK (is_primary IN (0, 1)),
    source      TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    verified_at TEXT,
    PRIMARY KEY (account_id, address)
) WITHOUT ROWID;
INSERT INTO emails_by_account (account_id, address, verified, is_primary, source, created_at, verified_at)
    SELECT account_id, address, verified, is_primary, source, created_at, verified_at FROM emails;
DROP TABLE emails;
ALTER TABLE emails_by_account RENAME TO emails;
CREATE UNIQUE INDEX emails_verified_address ON emails (address) WHERE verified;
CREATE UNIQUE INDEX emails_one_primary ON emails (account_id) WHERE is_primary;
CREATE INDEX emails_address ON emails (address);

CREATE INDEX links_account_heads ON links (account_id, source, external_id, status, digest);
DROP INDEX links_account;
