package store

import (
	"context"
	"time"
)

// This file holds the mail queue (package notify): the mails canonid sends,
// from the transaction that decides to send one until the mail server took
// it. A mail is queued in the caller's own transaction, so it is sent if and
// only if that transaction commits, and a crash between the commit and the
// sending loses nothing: a dispatcher sends it later.
//
// The payload of a queued mail (the recipient and the template's data, which
// may hold a one-time link) arrives encrypted by notify; the store never sees
// it in clear, and clears it once the mail is sent or has failed.
//
// Enqueue, MarkSent and MarkFailed are changes: the transaction must record
// an event (notify records mail.queued, mail.sent and mail.failed). Claim and
// MarkRetry are bookkeeping of the dispatcher and need none, and a write that
// changes no row (Claim reporting false, a write answering ErrNotFound)
// needs none either.
//
// A mail is "due at t" when it is queued and its NextAttemptAt is not after
// t. A zero time given to a method (now, at) stands for the current time.

// MailStatus is where a queued mail stands.
type MailStatus string

// Mail statuses.
const (
	// MailQueued: waiting for its next attempt (or being sent).
	MailQueued MailStatus = "queued"
	// MailSent: the mail server accepted it.
	MailSent MailStatus = "sent"
	// MailFailed: given up, after the last attempt or a permanent refusal.
	MailFailed MailStatus = "failed"
)

// QueuedMail is a mail in the queue.
type QueuedMail struct {
	ID string
	// AccountID is the account the mail is about, if any.
	AccountID string
	// Template and Locale name what notify renders ("activation", "fr").
	Template string
	Locale   string
	// Recipient is the address the mail goes to, for operators and
	// listings; the address the dispatcher sends to is the one sealed in
	// Payload.
	Recipient string
	// Payload is the recipient and the template's data, encrypted by
	// notify; nil once the mail is sent or failed.
	Payload []byte
	Status  MailStatus
	// Attempts counts the claims: each attempt to send starts with one.
	Attempts int
	// NextAttemptAt is when the mail is due: at creation, after a failure
	// (the backoff), or at the end of a claim.
	NextAttemptAt time.Time
	// LastError is why the last attempt failed, if one did.
	LastError string
	CreatedAt time.Time
	// SentAt is when the mail server accepted it.
	SentAt time.Time
}

// Mails stores the mail queue.
type Mails interface {
	// Enqueue inserts m as queued, with no attempt: an empty ID is set to a
	// new one, a zero CreatedAt to now, a zero NextAttemptAt to CreatedAt;
	// Template, Locale, Recipient and Payload are required. ErrDuplicate on
	// an id already used; ErrInvalidReference on an unknown account.
	Enqueue(ctx context.Context, m *QueuedMail) error
	// Due returns up to limit mails due at now (0 means 100), oldest
	// first, payload included.
	Due(ctx context.Context, now time.Time, limit int) ([]QueuedMail, error)
	// Claim takes the mail for one attempt, if it is still due at now: it
	// counts the attempt and pushes NextAttemptAt to until, in one
	// statement, so that of two dispatchers claiming one mail only one sees
	// true, and a dispatcher that dies while sending leaves the mail due
	// again at until. ErrNotFound when no mail has this id. It is
	// bookkeeping: it needs no event.
	Claim(ctx context.Context, id string, now, until time.Time) (bool, error)
	// MarkSent marks the queued mail sent at at and clears its payload.
	// ErrNotFound when no queued mail has this id.
	MarkSent(ctx context.Context, id string, at time.Time) error
	// MarkRetry leaves the queued mail queued, due at next, and records
	// why the attempt failed. ErrNotFound when no queued mail has this id.
	// It is bookkeeping: it needs no event.
	MarkRetry(ctx context.Context, id string, next time.Time, errText string) error
	// MarkFailed gives the queued mail up, recording why, and clears its
	// payload. ErrNotFound when no queued mail has this id.
	MarkFailed(ctx context.Context, id, errText string) error
	// Get returns the mail of this id, whatever its status.
	Get(ctx context.Context, id string) (QueuedMail, error)
}
