package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/canonid/canonid/store"
)

// The mail queue (migration 0007). Claim is one conditional statement, so
// that of two dispatchers claiming one mail only one changes it; Claim and
// MarkRetry are bookkeeping and never mark the transaction changed
// (store/mail.go).

type mails struct{ t *tx }

const mailCols = `id, account_id, template, locale, recipient, payload, status, attempts, next_attempt_at, last_error, created_at, sent_at`

func (r mails) Enqueue(ctx context.Context, m *store.QueuedMail) error {
	if m.Template == "" || m.Locale == "" || m.Recipient == "" || len(m.Payload) == 0 {
		return fmt.Errorf("mail: template, locale, recipient and payload are required")
	}
	if m.ID == "" {
		m.ID = uuid.NewString()
	}
	r.t.stamp(&m.CreatedAt)
	stampTime(&m.NextAttemptAt, m.CreatedAt)
	m.Status, m.Attempts, m.LastError, m.SentAt = store.MailQueued, 0, "", time.Time{}
	if _, err := r.t.exec(ctx, `INSERT INTO mail_queue (`+mailCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, NULL, ?, NULL)`,
		m.ID, nullString(m.AccountID), m.Template, m.Locale, m.Recipient, m.Payload, m.Status,
		r.t.time(m.NextAttemptAt), r.t.time(m.CreatedAt)); err != nil {
		return fmt.Errorf("enqueue %s mail: %w", m.Template, err)
	}
	return nil
}

func (r mails) Due(ctx context.Context, now time.Time, limit int) ([]store.QueuedMail, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := r.t.query(ctx, "SELECT "+mailCols+` FROM mail_queue
		WHERE status = ? AND next_attempt_at <= ? ORDER BY created_at, id LIMIT ?`,
		store.MailQueued, r.t.time(r.t.atOrNow(now)), limit)
	out, err := scanAll(rows, err, func(r *sqlRows) (store.QueuedMail, error) { return scanMail(r) })
	if err != nil {
		return nil, fmt.Errorf("due mails: %w", err)
	}
	return out, nil
}

func (r mails) Claim(ctx context.Context, id string, now, until time.Time) (bool, error) {
	now = r.t.atOrNow(now)
	if !until.After(now) {
		return false, fmt.Errorf("claim mail %s: until %s is not after now %s", id, until, now)
	}
	// One statement checks that the mail is still due and pushes it out of
	// the others' reach: on PostgreSQL a concurrent claim waits for this
	// one's row lock, then finds the mail no longer due.
	n, err := r.t.execN(ctx, false, `UPDATE mail_queue SET attempts = attempts + 1, next_attempt_at = ?
		WHERE id = ? AND status = ? AND next_attempt_at <= ?`,
		r.t.time(until), id, store.MailQueued, r.t.time(now))
	if err != nil {
		return false, fmt.Errorf("claim mail %s: %w", id, err)
	}
	if n > 0 {
		return true, nil
	}
	return false, r.t.exists(ctx, "mail "+id, `SELECT 1 FROM mail_queue WHERE id = ?`, id)
}

func (r mails) MarkSent(ctx context.Context, id string, at time.Time) error {
	n, err := r.t.execN(ctx, true, `UPDATE mail_queue SET status = ?, sent_at = ?, payload = NULL WHERE id = ? AND status = ?`,
		store.MailSent, r.t.time(r.t.atOrNow(at)), id, store.MailQueued)
	if err != nil {
		return fmt.Errorf("mark mail %s sent: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("queued mail %s: %w", id, store.ErrNotFound)
	}
	return nil
}

func (r mails) MarkRetry(ctx context.Context, id string, next time.Time, errText string) error {
	// Bookkeeping: it does not mark the transaction changed.
	n, err := r.t.execN(ctx, false, `UPDATE mail_queue SET next_attempt_at = ?, last_error = ? WHERE id = ? AND status = ?`,
		r.t.time(r.t.atOrNow(next)), nullString(errText), id, store.MailQueued)
	if err != nil {
		return fmt.Errorf("schedule mail %s again: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("queued mail %s: %w", id, store.ErrNotFound)
	}
	return nil
}

func (r mails) MarkFailed(ctx context.Context, id, errText string) error {
	n, err := r.t.execN(ctx, true, `UPDATE mail_queue SET status = ?, last_error = ?, payload = NULL WHERE id = ? AND status = ?`,
		store.MailFailed, nullString(errText), id, store.MailQueued)
	if err != nil {
		return fmt.Errorf("mark mail %s failed: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("queued mail %s: %w", id, store.ErrNotFound)
	}
	return nil
}

func (r mails) Get(ctx context.Context, id string) (store.QueuedMail, error) {
	m, err := scanMail(r.t.queryRow(ctx, "SELECT "+mailCols+" FROM mail_queue WHERE id = ?", id))
	return m, r.t.oneRow(err, "mail "+id)
}

func scanMail(r interface{ Scan(...any) error }) (store.QueuedMail, error) {
	var m store.QueuedMail
	var account, lastError strCol
	var next, created, sent timeCol
	if err := r.Scan(&m.ID, &account, &m.Template, &m.Locale, &m.Recipient, &m.Payload, &m.Status, &m.Attempts,
		&next, &lastError, &created, &sent); err != nil {
		return m, err
	}
	m.AccountID, m.LastError = string(account), string(lastError)
	m.NextAttemptAt, m.CreatedAt, m.SentAt = next.t(), created.t(), sent.t()
	return m, nil
}
