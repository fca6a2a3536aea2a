-- The mail queue (SQLite). Keep in step with the PostgreSQL file. A mail is
-- queued in the transaction that decides to send it and sent afterwards by a
-- dispatcher; payload (the recipient and the template's data, which may hold
-- a one-time link) is encrypted by notify and cleared once the mail is sent
-- or has failed.
CREATE TABLE mail_queue (
    id              TEXT PRIMARY KEY,
    account_id      TEXT REFERENCES accounts (id),
    template        TEXT NOT NULL,
    locale          TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    payload         BLOB,
    status          TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT,
    CHECK (status <> 'queued' OR payload IS NOT NULL)
);
-- The dispatcher's poll: queued mails by due time.
CREATE INDEX mail_queue_due ON mail_queue (next_attempt_at) WHERE status = 'queued';
CREATE INDEX mail_queue_account ON mail_queue (account_id) WHERE account_id IS NOT NULL;
