package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"time"

	"github.com/canonid/canonid/store"
)

// Dispatcher sends the queued mails when they are due. Every replica may
// run one: a mail is claimed by one dispatcher at a time.
type Dispatcher struct {
	st     store.Store
	cfg    Config
	driver Driver
	log    *slog.Logger
	seal   *sealer
	render *renderer
	from   *mail.Address
	now    func() time.Time
}

// batch is how many due mails one read of the queue returns.
const batch = 100

// backoff is how long a mail waits after its n-th failed attempt: 1m, 5m,
// 30m, 2h, then 6h.
func backoff(n int) time.Duration {
	steps := [...]time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 6 * time.Hour}
	return steps[min(max(n, 1), len(steps))-1]
}

// NewDispatcher returns a dispatcher sending the mails of st through
// driver.
func NewDispatcher(st store.Store, cfg Config, driver Driver, logger *slog.Logger) (*Dispatcher, error) {
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
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, err
	}
	return &Dispatcher{st: st, cfg: cfg, driver: driver, log: logger, seal: seal, render: r, from: from, now: time.Now}, nil
}

// SetClock replaces the clock that says what is due, schedules retries and
// dates the mails. For tests.
func (d *Dispatcher) SetClock(now func() time.Time) { d.now = now }

// lease is how long a claimed mail stays out of the other dispatchers'
// reach: longer than an SMTP conversation may last.
func (d *Dispatcher) lease() time.Duration {
	if d.cfg.Driver == DriverSMTP {
		return max(time.Minute, 3*d.cfg.SMTP.Timeout)
	}
	return time.Minute
}

// Run sends due mails every PollInterval until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) {
	d.log.InfoContext(ctx, "mail dispatcher started", "driver", d.cfg.Driver, "poll_interval", d.cfg.PollInterval)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, _, err := d.Tick(ctx); err != nil && ctx.Err() == nil {
			d.log.ErrorContext(ctx, "mail dispatcher", "err", err)
		}
		t.Reset(d.cfg.PollInterval)
	}
}

// Tick sends the mails due now, and returns how many it sent and how many
// it gave up; the others that failed are scheduled again. An error is the
// store's: the mails not reached stay due.
func (d *Dispatcher) Tick(ctx context.Context) (sent, failed int, err error) {
	now := d.now()
	for {
		var due []store.QueuedMail
		if err := d.st.View(ctx, func(tx store.Tx) error {
			var err error
			due, err = tx.Mails().Due(ctx, now, batch)
			return err
		}); err != nil {
			return sent, failed, err
		}
		// Each mail read is then claimed (no longer due at now), sent or
		// scheduled later, or failed: the next read sees the rest.
		for _, m := range due {
			s, f, err := d.dispatch(ctx, m)
			sent, failed = sent+s, failed+f
			if err != nil {
				return sent, failed, err
			}
		}
		if len(due) < batch {
			return sent, failed, nil
		}
	}
}

// dispatch claims, renders, sends and records one mail.
func (d *Dispatcher) dispatch(ctx context.Context, m store.QueuedMail) (sent, failed int, err error) {
	var claimed bool
	// The claim counts from now, not from the start of the tick: after a
	// slow batch, a claim from then could end before the sending.
	now := d.now()
	if err := d.st.Update(ctx, func(tx store.Tx) error {
		var err error
		claimed, err = tx.Mails().Claim(ctx, m.ID, now, now.Add(d.lease()))
		return err
	}); err != nil || !claimed {
		return 0, 0, err // not claimed: another dispatcher has it
	}
	m.Attempts++
	sendErr := d.send(ctx, m)
	if sendErr != nil && ctx.Err() != nil {
		// Shutting down: the mail is due again when the claim ends.
		return 0, 0, ctx.Err()
	}
	// Record what happened even if ctx ends now: the server took the mail.
	ctx = context.WithoutCancel(ctx)
	log := d.log.With("mail_id", m.ID, "template", m.Template, "attempt", m.Attempts)
	var permanent *PermanentError
	switch {
	case sendErr == nil:
		at := d.now()
		err := d.st.Update(ctx, func(tx store.Tx) error {
			if err := tx.Mails().MarkSent(ctx, m.ID, at); err != nil {
				return err
			}
			return tx.Record(ctx, store.Event{Type: EventMailSent, Actor: "system", AccountID: m.AccountID, At: at,
				Data: map[string]any{"mail_id": m.ID, "template": m.Template, "attempts": m.Attempts}})
		})
		if err != nil {
			return 0, 0, fmt.Errorf("mail %s was sent but cannot be marked sent (it may be sent again): %w", m.ID, err)
		}
		log.InfoContext(ctx, "mail sent")
		return 1, 0, nil
	case errors.As(sendErr, &permanent) || m.Attempts >= d.cfg.MaxAttempts:
		text := errorText(sendErr)
		err := d.st.Update(ctx, func(tx store.Tx) error {
			if err := tx.Mails().MarkFailed(ctx, m.ID, text); err != nil {
				return err
			}
			return tx.Record(ctx, store.Event{Type: EventMailFailed, Actor: "system", AccountID: m.AccountID, At: d.now(),
				Data: map[string]any{"mail_id": m.ID, "template": m.Template, "attempts": m.Attempts, "error": text}})
		})
		if err != nil {
			return 0, 0, fmt.Errorf("mark mail %s failed: %w", m.ID, err)
		}
		log.ErrorContext(ctx, "mail failed, given up", "err", sendErr)
		return 0, 1, nil
	default:
		next := d.now().Add(backoff(m.Attempts))
		err := d.st.Update(ctx, func(tx store.Tx) error {
			return tx.Mails().MarkRetry(ctx, m.ID, next, errorText(sendErr))
		})
		if err != nil {
			return 0, 0, fmt.Errorf("schedule mail %s again: %w", m.ID, err)
		}
		log.WarnContext(ctx, "mail not sent, will try again", "err", sendErr, "next_attempt_at", next)
		return 0, 0, nil
	}
}

// send decrypts, renders and hands the mail to the driver.
func (d *Dispatcher) send(ctx context.Context, m store.QueuedMail) error {
	p, err := d.seal.open(m.ID, m.Template, m.Locale, m.Payload)
	if err != nil {
		return err
	}
	r, err := d.render.render(m.Locale, m.Template, p.Data)
	if err != nil {
		return err
	}
	out, err := compose(m.ID, d.from, p.To, m.Locale, r, d.now().In(d.cfg.Location))
	if err != nil {
		return err
	}
	return d.driver.Send(ctx, out)
}

// errorText is err's message as stored, bounded.
func errorText(err error) string {
	s := err.Error()
	if len(s) > 1000 {
		s = strings.ToValidUTF8(s[:1000], "")
	}
	return s
}
