package storetest

import (
	"bytes"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/canonid/canonid/store"
)

// The mail queue.

// mailNow is the clock of these tests: the store compares the times it is
// given, never its own.
var mailNow = time.Date(2026, 3, 29, 10, 0, 0, 0, time.UTC)

func getMail(t testing.TB, st store.Store, id string) store.QueuedMail {
	t.Helper()
	return view(t, st, func(tx store.Tx) (store.QueuedMail, error) { return tx.Mails().Get(ctx, id) })
}

func dueMails(t testing.TB, st store.Store, at time.Time, limit int) []string {
	t.Helper()
	due := view(t, st, func(tx store.Tx) ([]store.QueuedMail, error) { return tx.Mails().Due(ctx, at, limit) })
	var ids []string
	for _, m := range due {
		ids = append(ids, m.ID)
	}
	return ids
}

// claim runs Claim in a transaction of its own, without an event: it is
// bookkeeping.
func claim(st store.Store, id string, now, until time.Time) (bool, error) {
	var did bool
	err := st.Update(ctx, func(tx store.Tx) error {
		var err error
		did, err = tx.Mails().Claim(ctx, id, now, until)
		return err
	})
	return did, err
}

func testMails(t *testing.T, st store.Store, _ Options) {
	a := newAccount(t, st, "a")
	now := mailNow
	m1 := store.QueuedMail{AccountID: a.ID, Template: "activation", Locale: "fr", Recipient: "a@example.org",
		Payload: []byte("sealed-1"), CreatedAt: now}
	m2 := store.QueuedMail{ID: "m2", Template: "org_message", Locale: "en", Recipient: "b@example.org",
		Payload: []byte("sealed-2"), CreatedAt: now.Add(time.Second)}
	later := store.QueuedMail{Template: "activation", Locale: "fr", Recipient: "c@example.org",
		Payload: []byte("sealed-3"), CreatedAt: now.Add(-time.Minute), NextAttemptAt: now.Add(time.Hour)}
	update(t, st, func(tx store.Tx) error {
		return errors.Join(tx.Mails().Enqueue(ctx, &m1), tx.Mails().Enqueue(ctx, &m2), tx.Mails().Enqueue(ctx, &later))
	})
	if m1.ID == "" || m2.ID != "m2" || m1.Status != store.MailQueued || !m1.NextAttemptAt.Equal(now) {
		t.Fatalf("Enqueue: %+v, %+v; want an id, queued, due at creation", m1, m2)
	}
	got := getMail(t, st, m1.ID)
	if got.AccountID != a.ID || got.Template != "activation" || got.Locale != "fr" || got.Recipient != "a@example.org" ||
		!bytes.Equal(got.Payload, []byte("sealed-1")) || got.Status != store.MailQueued || got.Attempts != 0 ||
		!got.NextAttemptAt.Equal(now) || got.LastError != "" || !got.CreatedAt.Equal(now) || !got.SentAt.IsZero() {
		t.Fatalf("Get = %+v, want %+v", got, m1)
	}
	if got := getMail(t, st, m2.ID); got.AccountID != "" {
		t.Fatalf("a mail about no account: AccountID = %q", got.AccountID)
	}
	wantErr(t, st.View(ctx, func(tx store.Tx) error { _, err := tx.Mails().Get(ctx, "nope"); return err }), store.ErrNotFound)

	// Uniqueness, references, required fields.
	wantDuplicate(t, updateErr(st, func(tx store.Tx) error {
		return tx.Mails().Enqueue(ctx, &store.QueuedMail{ID: "m2", Template: "t", Locale: "fr", Recipient: "x@example.org", Payload: []byte("p")})
	}), "mail")
	wantErr(t, updateErr(st, func(tx store.Tx) error {
		return tx.Mails().Enqueue(ctx, &store.QueuedMail{AccountID: "missing", Template: "t", Locale: "fr", Recipient: "x@example.org", Payload: []byte("p")})
	}), store.ErrInvalidReference)
	for _, bad := range []store.QueuedMail{
		{Locale: "fr", Recipient: "x@example.org", Payload: []byte("p")},
		{Template: "t", Recipient: "x@example.org", Payload: []byte("p")},
		{Template: "t", Locale: "fr", Payload: []byte("p")},
		{Template: "t", Locale: "fr", Recipient: "x@example.org"},
	} {
		if err := updateErr(st, func(tx store.Tx) error { return tx.Mails().Enqueue(ctx, &bad) }); err == nil {
			t.Errorf("Enqueue accepted %+v", bad)
		}
	}

	// Due: queued mails whose next attempt is not after now, oldest first.
	for _, c := range []struct {
		at    time.Time
		limit int
		want  []string
	}{
		{now.Add(-time.Microsecond), 0, nil},
		{now, 0, []string{m1.ID}},
		{now.Add(time.Second), 0, []string{m1.ID, m2.ID}},
		{now.Add(time.Hour), 0, []string{later.ID, m1.ID, m2.ID}},
		{now.Add(time.Hour), 2, []string{later.ID, m1.ID}},
	} {
		if got := dueMails(t, st, c.at, c.limit); !slices.Equal(got, c.want) {
			t.Errorf("Due(%s, %d) = %v, want %v", c.at, c.limit, got, c.want)
		}
	}
	if due := view(t, st, func(tx store.Tx) ([]store.QueuedMail, error) { return tx.Mails().Due(ctx, now, 0) }); len(due) != 1 ||
		!bytes.Equal(due[0].Payload, []byte("sealed-1")) || due[0].Recipient != "a@example.org" {
		t.Fatalf("Due returned %+v, want m1 with its payload", due)
	}

	// Claim counts the attempt and hides the mail until the lease ends.
	lease := now.Add(5 * time.Minute)
	if did, err := claim(st, m1.ID, now, lease); err != nil || !did {
		t.Fatalf("first Claim = %t, %v; want true", did, err)
	}
	if got := getMail(t, st, m1.ID); got.Attempts != 1 || !got.NextAttemptAt.Equal(lease) || got.Status != store.MailQueued {
		t.Fatalf("after Claim: %+v", got)
	}
	if did, err := claim(st, m1.ID, now.Add(time.Minute), now.Add(6*time.Minute)); err != nil || did {
		t.Fatalf("Claim of a claimed mail = %t, %v; want false", did, err)
	}
	if got := dueMails(t, st, lease.Add(-time.Microsecond), 0); !slices.Equal(got, []string{m2.ID}) {
		t.Fatalf("Due during the lease = %v, want m2 only", got)
	}
	// A dispatcher that died: the mail is due again when the lease ends.
	if did, err := claim(st, m1.ID, lease, lease.Add(5*time.Minute)); err != nil || !did {
		t.Fatalf("Claim at the end of the lease = %t, %v; want true", did, err)
	}
	if got := getMail(t, st, m1.ID); got.Attempts != 2 {
		t.Fatalf("attempts after two claims = %d", got.Attempts)
	}
	_, err := claim(st, "nope", now, lease)
	wantErr(t, err, store.ErrNotFound)
	if _, err := claim(st, m2.ID, now.Add(time.Hour), now.Add(time.Hour)); err == nil {
		t.Fatal("Claim accepted a lease ending at now")
	}

	// MarkRetry: due again at next, with the error.
	next := now.Add(20 * time.Minute)
	fatalIf(t, st.Update(ctx, func(tx store.Tx) error { return tx.Mails().MarkRetry(ctx, m1.ID, next, "451 4.3.0 try later") }))
	if got := getMail(t, st, m1.ID); got.Status != store.MailQueued || !got.NextAttemptAt.Equal(next) ||
		got.LastError != "451 4.3.0 try later" || got.Attempts != 2 || got.Payload == nil {
		t.Fatalf("after MarkRetry: %+v", got)
	}
	if got := dueMails(t, st, next, 0); !slices.Contains(got, m1.ID) {
		t.Fatalf("Due at the retry time = %v, want m1 in it", got)
	}
	wantErr(t, st.Update(ctx, func(tx store.Tx) error { return tx.Mails().MarkRetry(ctx, "nope", next, "x") }), store.ErrNotFound)

	// MarkSent clears the payload; the mail is never due again.
	sentAt := now.Add(21 * time.Minute)
	update(t, st, func(tx store.Tx) error { return tx.Mails().MarkSent(ctx, m1.ID, sentAt) })
	if got := getMail(t, st, m1.ID); got.Status != store.MailSent || got.Payload != nil || !got.SentAt.Equal(sentAt) ||
		got.Attempts != 2 || got.Recipient != "a@example.org" {
		t.Fatalf("after MarkSent: %+v", got)
	}
	if got := dueMails(t, st, now.Add(48*time.Hour), 0); slices.Contains(got, m1.ID) {
		t.Fatalf("a sent mail is due: %v", got)
	}
	if did, err := claim(st, m1.ID, now.Add(48*time.Hour), now.Add(49*time.Hour)); err != nil || did {
		t.Fatalf("Claim of a sent mail = %t, %v; want false", did, err)
	}
	wantErr(t, updateErr(st, func(tx store.Tx) error { return tx.Mails().MarkSent(ctx, m1.ID, sentAt) }), store.ErrNotFound)
	wantErr(t, updateErr(st, func(tx store.Tx) error { return tx.Mails().MarkRetry(ctx, m1.ID, next, "x") }), store.ErrNotFound)
	wantErr(t, updateErr(st, func(tx store.Tx) error { return tx.Mails().MarkFailed(ctx, m1.ID, "x") }), store.ErrNotFound)

	// MarkFailed clears the payload too.
	update(t, st, func(tx store.Tx) error { return tx.Mails().MarkFailed(ctx, m2.ID, "550 5.1.1 no such user") })
	if got := getMail(t, st, m2.ID); got.Status != store.MailFailed || got.Payload != nil || got.LastError != "550 5.1.1 no such user" ||
		!got.SentAt.IsZero() {
		t.Fatalf("after MarkFailed: %+v", got)
	}
	wantErr(t, updateErr(st, func(tx store.Tx) error { return tx.Mails().MarkFailed(ctx, m2.ID, "x") }), store.ErrNotFound)
	wantErr(t, updateErr(st, func(tx store.Tx) error { return tx.Mails().MarkSent(ctx, "nope", sentAt) }), store.ErrNotFound)
	if got := dueMails(t, st, now.Add(48*time.Hour), 0); !slices.Equal(got, []string{later.ID}) {
		t.Fatalf("Due after sending m1 and failing m2 = %v, want the later mail only", got)
	}
}

// testMailClaimRace claims one due mail from several transactions that all
// found it due: exactly one gets it.
func testMailClaimRace(t *testing.T, st store.Store, opts Options) {
	now := mailNow
	m := store.QueuedMail{Template: "activation", Locale: "fr", Recipient: "a@example.org", Payload: []byte("p"), CreatedAt: now}
	update(t, st, func(tx store.Tx) error { return tx.Mails().Enqueue(ctx, &m) })
	var mu sync.Mutex
	wins := 0
	errs := race(st, opts, 6, func(tx store.Tx) error {
		due, err := tx.Mails().Due(ctx, now, 0)
		if err == nil && opts.ConcurrentWriters && len(due) != 1 {
			t.Errorf("Due before any claim found %d mails", len(due))
		}
		return err
	}, func(tx store.Tx) error {
		did, err := tx.Mails().Claim(ctx, m.ID, now, now.Add(time.Minute))
		if did {
			mu.Lock()
			wins++
			mu.Unlock()
		}
		return err
	})
	for _, err := range errs {
		fatalIf(t, err)
	}
	if wins != 1 {
		t.Fatalf("Claim reported true %d times, want once", wins)
	}
	if got := getMail(t, st, m.ID); got.Attempts != 1 {
		t.Fatalf("attempts after the race = %d, want 1", got.Attempts)
	}
}

// testMailEvents: Enqueue, MarkSent and MarkFailed need an event; Claim and
// MarkRetry, bookkeeping, do not; every write fails in View; a rolled-back
// transaction leaves no mail.
func testMailEvents(t *testing.T, st store.Store, _ Options) {
	now := mailNow
	mk := func() store.QueuedMail {
		m := store.QueuedMail{Template: "activation", Locale: "fr", Recipient: "a@example.org", Payload: []byte("p"), CreatedAt: now}
		update(t, st, func(tx store.Tx) error { return tx.Mails().Enqueue(ctx, &m) })
		return m
	}
	m := mk()
	writes := []struct {
		name     string
		recorded bool
		fn       func(tx store.Tx) error
	}{
		{"Enqueue", true, func(tx store.Tx) error {
			return tx.Mails().Enqueue(ctx, &store.QueuedMail{Template: "t", Locale: "fr", Recipient: "x@example.org", Payload: []byte("p")})
		}},
		{"MarkSent", true, func(tx store.Tx) error { return tx.Mails().MarkSent(ctx, m.ID, now) }},
		{"MarkFailed", true, func(tx store.Tx) error { return tx.Mails().MarkFailed(ctx, m.ID, "x") }},
		{"Claim", false, func(tx store.Tx) error { _, err := tx.Mails().Claim(ctx, m.ID, now, now.Add(time.Minute)); return err }},
		{"MarkRetry", false, func(tx store.Tx) error { return tx.Mails().MarkRetry(ctx, m.ID, now, "x") }},
	}
	for _, w := range writes {
		if err := st.View(ctx, w.fn); !errors.Is(err, store.ErrReadOnly) {
			t.Errorf("%s in View: %v, want %v", w.name, err, store.ErrReadOnly)
		}
	}
	head := countOutbox(t, st)
	for _, w := range writes {
		err := st.Update(ctx, w.fn)
		switch {
		case w.recorded && !errors.Is(err, store.ErrUnrecorded):
			t.Errorf("%s without an event: %v, want %v", w.name, err, store.ErrUnrecorded)
		case !w.recorded && err != nil:
			t.Errorf("%s without an event: %v, want it accepted (bookkeeping)", w.name, err)
		}
	}
	if countOutbox(t, st) != head {
		t.Fatal("writes without events left events")
	}
	// The refused writes left nothing; the bookkeeping ones were kept.
	if got := getMail(t, st, m.ID); got.Status != store.MailQueued || got.Payload == nil || got.Attempts != 1 ||
		!got.NextAttemptAt.Equal(now) || got.LastError != "x" {
		t.Fatalf("after the refused and the bookkeeping writes: %+v", got)
	}
	if got := dueMails(t, st, now.Add(time.Hour), 0); !slices.Equal(got, []string{m.ID}) {
		t.Fatalf("refused Enqueue left a mail: %v", got)
	}

	// A business transaction that rolls back takes its mail with it.
	errBusiness := errors.New("business rule")
	var rolled store.QueuedMail
	err := st.Update(ctx, func(tx store.Tx) error {
		rolled = store.QueuedMail{Template: "activation", Locale: "fr", Recipient: "r@example.org", Payload: []byte("p"), CreatedAt: now}
		if err := tx.Mails().Enqueue(ctx, &rolled); err != nil {
			return err
		}
		if err := tx.Record(ctx, store.Event{Type: "mail.queued", Actor: "test"}); err != nil {
			return err
		}
		return errBusiness
	})
	wantErr(t, err, errBusiness)
	wantErr(t, st.View(ctx, func(tx store.Tx) error { _, err := tx.Mails().Get(ctx, rolled.ID); return err }), store.ErrNotFound)
	if got := dueMails(t, st, now.Add(time.Hour), 0); !slices.Equal(got, []string{m.ID}) {
		t.Fatalf("a rolled-back mail is queued: %v", got)
	}
}
