-- Batch reads by account (PostgreSQL). Keep in step with the SQLite file,
-- which also stores emails in the order of its primary key.
--
-- A page of SCIM users, a sync batch or an import batch reads the links of
-- a few hundred accounts by account id: this index holds every column of
-- such a read, so that they come from the index alone (once the visibility
-- map is set) instead of one heap page per link.
CREATE INDEX links_account_heads ON links (account_id, source, external_id, status, digest);
DROP INDEX links_account;
