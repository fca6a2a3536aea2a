-- The redirection of an account's institutional mail (SQLite). Keep in step
-- with the PostgreSQL file. A JSON document like consents
-- ({"address", "keep_copy", "verified_at", "chosen_at"}: identity.MailForward),
-- NULL when the account has no redirection.
ALTER TABLE accounts ADD COLUMN mail_forward TEXT;
