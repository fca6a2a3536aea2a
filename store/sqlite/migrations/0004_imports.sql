-- File imports (SQLite). Keep in step with the PostgreSQL file.
-- One row per import run (canonid import, POST /api/v1/imports/{connector}),
-- with its report, so that past imports can be listed and shown.
CREATE TABLE imports (
    id          TEXT PRIMARY KEY,
    connector   TEXT NOT NULL,
    file_name   TEXT NOT NULL,
    file_sha256 TEXT NOT NULL,
    actor       TEXT NOT NULL,
    dry_run     INTEGER NOT NULL CHECK (dry_run IN (0, 1)),
    status      TEXT NOT NULL CHECK (status IN ('completed', 'rejected', 'failed')),
    started_at  TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    report      TEXT NOT NULL
);
CREATE INDEX imports_connector ON imports (connector, started_at);
