// Package notify sends canonid's mails: activation and verification links,
// registration and validation notices, messages of an org's administrators.
//
// A mail is queued by Queue.Enqueue inside the transaction that decides to
// send it (the store's outbox rule: it is sent if and only if that
// transaction commits), with its data — the recipient and the template's
// data, one-time links included — encrypted under a key derived from
// Config.Secret. A Dispatcher, in every replica, polls the queue, claims each
// due mail (one claim wins when replicas race), renders it from the embedded
// FR and EN templates, hands it to the Driver, and records the outcome:
// sent, or tried again later with exponential backoff, or failed after
// Config.MaxAttempts. A crash loses no mail: a mail is sent at least once,
// and twice only when a dispatcher dies between the server's acceptance and
// the record of it.
//
// Drivers: smtp for production; log and dir for development (they write the
// mails, links included, to the log or to .eml files).
package notify

import (
	"context"
	"fmt"
	"net/mail"
	"time"

	"github.com/google/uuid"

	"github.com/canonid/canonid/store"
)

// Events the package records.
const (
	EventMailQueued = "mail.queued"
	EventMailSent   = "mail.sent"
	EventMailFailed = "mail.failed"
)

// Message is a mail to queue.
type Message struct {
	// To is the recipient's address (a bare address: "a@example.org").
	To string
	// Locale is the language: "fr" (the default when empty) or "en"; a
	// region ("en-GB") is ignored.
	Locale string
	// Template is one of the Template* names.
	Template string
	// AccountID is the account the mail is about, if any.
	AccountID string
	// Data holds the template's data: every key it reads (see the
	// Template* names), as text. It is stored encrypted.
	Data map[string]string
	// Actor, OrgID and RequestID go into the mail.queued event, as in the
	// caller's own events; Actor defaults to "system".
	Actor     string
	OrgID     string
	RequestID string
}

// Queue queues mails in the caller's transaction.
type Queue struct {
	seal   *sealer
	render *renderer
	now    func() time.Time
}

// NewQueue returns the queue of cfg.
func NewQueue(cfg Config) (*Queue, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("mail: %w", err)
	}
	cfg = cfg.withDefaults()
	seal, err := newSealer(cfg.Secret)
	if err != nil {
		return nil, err
	}
	r, err := newRenderer(cfg.SiteName, cfg.Location)
	if err != nil {
		return nil, err
	}
	return &Queue{seal: seal, render: r, now: time.Now}, nil
}

// SetClock replaces the clock that dates queued mails. For tests.
func (q *Queue) SetClock(now func() time.Time) { q.now = now }

// Enqueue queues m in tx and records mail.queued (without the data). It
// checks first that the template exists in the locale, that the address
// parses, and that the mail renders with m.Data: a missing key or a time
// that is not RFC 3339 fails here, in the caller's transaction, rather
// than at sending. The mail goes out once tx commits; if it rolls back,
// there is no mail.
func (q *Queue) Enqueue(ctx context.Context, tx store.Tx, m Message) error {
	locale, err := q.render.locale(m.Locale)
	if err != nil {
		return fmt.Errorf("mail %s: %w", m.Template, err)
	}
	if _, err := q.render.template(locale, m.Template); err != nil {
		return err
	}
	addr, err := mail.ParseAddress(m.To)
	if err != nil || addr.Name != "" || addr.Address != m.To {
		return fmt.Errorf("mail %s: %q is not an e-mail address", m.Template, m.To)
	}
	if _, err := q.render.render(locale, m.Template, m.Data); err != nil {
		return err
	}
	id, err := uuid.NewV7() // time-ordered: .eml files of the dir driver sort by age
	if err != nil {
		return err
	}
	sealed, err := q.seal.seal(id.String(), m.Template, locale, payload{To: addr.Address, Data: m.Data})
	if err != nil {
		return err
	}
	qm := store.QueuedMail{ID: id.String(), AccountID: m.AccountID, Template: m.Template, Locale: locale,
		Recipient: addr.Address, Payload: sealed, CreatedAt: q.now()}
	if err := tx.Mails().Enqueue(ctx, &qm); err != nil {
		return err
	}
	actor := m.Actor
	if actor == "" {
		actor = "system"
	}
	return tx.Record(ctx, store.Event{Type: EventMailQueued, Actor: actor, AccountID: m.AccountID, OrgID: m.OrgID,
		RequestID: m.RequestID, At: qm.CreatedAt,
		Data: map[string]string{"mail_id": qm.ID, "template": m.Template, "locale": locale}})
}
