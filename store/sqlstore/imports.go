package sqlstore

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/canonid/canonid/store"
)

type imports struct{ t *tx }

func (t *tx) Imports() store.Imports { return imports{t} }

const importCols = `id, connector, file_name, file_sha256, actor, dry_run, status, started_at, finished_at, report`

func scanImport(r interface{ Scan(...any) error }) (store.ImportRecord, error) {
	var m store.ImportRecord
	var started, finished timeCol
	var report jsonCol
	err := r.Scan(&m.ID, &m.Connector, &m.FileName, &m.FileSHA256, &m.Actor, &m.DryRun, &m.Status, &started, &finished, &report)
	m.StartedAt, m.FinishedAt, m.Report = started.t(), finished.t(), []byte(report)
	return m, err
}

func (r imports) Create(ctx context.Context, m *store.ImportRecord) error {
	if m.ID == "" {
		m.ID = uuid.NewString()
	}
	if m.Connector == "" || m.Actor == "" || m.Status == "" {
		return fmt.Errorf("import record: connector, actor and status are required")
	}
	r.t.stamp(&m.StartedAt)
	r.t.stamp(&m.FinishedAt)
	report := string(m.Report)
	if report == "" {
		report = "{}"
	}
	if _, err := r.t.exec(ctx, `INSERT INTO imports (`+importCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.ID, m.Connector, m.FileName, m.FileSHA256, m.Actor, m.DryRun, m.Status, r.t.time(m.StartedAt), r.t.time(m.FinishedAt), report); err != nil {
		return fmt.Errorf("create import record: %w", err)
	}
	return nil
}

func (r imports) Get(ctx context.Context, id string) (store.ImportRecord, error) {
	m, err := scanImport(r.t.queryRow(ctx, "SELECT "+importCols+" FROM imports WHERE id = ?", id))
	return m, r.t.oneRow(err, "import "+id)
}

func (r imports) List(ctx context.Context, connector string, limit int) ([]store.ImportRecord, error) {
	if limit <= 0 {
		limit = 100
	}
	q := "SELECT " + importCols + " FROM imports"
	args := []any{}
	if connector != "" {
		q += " WHERE connector = ?"
		args = append(args, connector)
	}
	rows, err := r.t.query(ctx, q+" ORDER BY started_at DESC, id DESC LIMIT ?", append(args, limit)...)
	return scanAll(rows, err, func(r *sqlRows) (store.ImportRecord, error) { return scanImport(r) })
}
