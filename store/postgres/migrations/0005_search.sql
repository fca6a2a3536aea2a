-- Account search (PostgreSQL). Keep in step with the SQLite file.
-- The SCIM filter "active" excludes the accounts whose link of the caller's
-- source is gone (Accounts.Search): this partial index holds the gone links
-- only, few, so that finding them costs nothing however many links a source
-- has, and a source with none gone is not scanned to prove it.
CREATE INDEX links_gone ON links (source, account_id) WHERE status = 'gone';
