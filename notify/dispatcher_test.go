package notify

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/sqlite"
	"github.com/canonid/canonid/store/storetest"
)

func tick(t *testing.T, d *Dispatcher) (sent, failed int) {
	t.Helper()
	sent, failed, err := d.Tick(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return sent, failed
}

// TestTransientFailureRetried: the server answers 451 twice; the mail waits
// 1m then 5m by the dispatcher's clock, and the third attempt sends it.
func TestTransientFailureRetried(t *testing.T) {
	srv := startSMTP(t, serverOptions{tls: "starttls", answer: func(n int) error {
		if n <= 2 {
			return tryLater
		}
		return nil
	}})
	st := storetest.OpenSQLite(t)
	cfg := smtpConfig(srv, TLSStartTLS)
	c := newClock()
	accountID := createAndMail(t, st, newQueue(t, cfg, c))
	disp := newDispatcher(t, st, cfg, newSMTP(t, cfg), c)
	id := dueMails(t, st, c.Now())[0].ID

	start := c.Now()
	for i, wait := range []time.Duration{time.Minute, 5 * time.Minute} {
		if sent, failed := tick(t, disp); sent+failed != 0 {
			t.Fatalf("attempt %d: %d sent, %d failed; want a retry", i+1, sent, failed)
		}
		m := getMail(t, st, id)
		if m.Status != store.MailQueued || m.Attempts != i+1 || !m.NextAttemptAt.Equal(c.Now().Add(wait)) ||
			!strings.Contains(m.LastError, "451") || m.Payload == nil {
			t.Fatalf("after attempt %d: %+v; want queued, due in %v, with the 451", i+1, m, wait)
		}
		// Not due before the backoff ends: no new conversation.
		c.Advance(wait - time.Second)
		if sent, failed := tick(t, disp); sent+failed != 0 || srv.rcptCount() != i+1 {
			t.Fatalf("a Tick during the backoff tried again (%d RCPTs)", srv.rcptCount())
		}
		c.Advance(time.Second)
	}
	if sent, failed := tick(t, disp); sent != 1 || failed != 0 {
		t.Fatalf("third attempt: %d sent, %d failed; want sent", sent, failed)
	}
	if m := getMail(t, st, id); m.Status != store.MailSent || m.Attempts != 3 || !m.SentAt.Equal(start.Add(6*time.Minute)) {
		t.Fatalf("after the third attempt: %+v", m)
	}
	if len(srv.received()) != 1 {
		t.Fatalf("the server received %d mails", len(srv.received()))
	}
	if got := auditTypes(t, st, accountID); strings.Join(got, ",") != "account.created,mail.queued,mail.sent" {
		t.Fatalf("audit = %v (retries record nothing)", got)
	}
}

// TestGivesUpAfterMaxAttempts: a server that always answers 451 — the mail
// fails at the last attempt, its payload cleared, with a mail.failed event.
func TestGivesUpAfterMaxAttempts(t *testing.T) {
	srv := startSMTP(t, serverOptions{tls: "starttls", answer: func(int) error { return tryLater }})
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		cfg := smtpConfig(srv, TLSStartTLS)
		cfg.MaxAttempts = 3
		c := newClock()
		accountID := createAndMail(t, st, newQueue(t, cfg, c))
		disp := newDispatcher(t, st, cfg, newSMTP(t, cfg), c)
		id := dueMails(t, st, c.Now())[0].ID
		for _, wait := range []time.Duration{time.Minute, 5 * time.Minute} {
			if sent, failed := tick(t, disp); sent+failed != 0 {
				t.Fatalf("%d sent, %d failed before the last attempt", sent, failed)
			}
			c.Advance(wait)
		}
		if sent, failed := tick(t, disp); sent != 0 || failed != 1 {
			t.Fatalf("last attempt: %d sent, %d failed; want failed", sent, failed)
		}
		m := getMail(t, st, id)
		if m.Status != store.MailFailed || m.Attempts != 3 || m.Payload != nil || !strings.Contains(m.LastError, "451") {
			t.Fatalf("after the last attempt: %+v", m)
		}
		if got := auditTypes(t, st, accountID); strings.Join(got, ",") != "account.created,mail.queued,mail.failed" {
			t.Fatalf("audit = %v", got)
		}
		c.Advance(24 * time.Hour)
		if sent, failed := tick(t, disp); sent+failed != 0 {
			t.Fatal("a failed mail was tried again")
		}
	})
}

// TestRecipientRefusedFailsAtOnce: a 550 to RCPT is not worth a retry.
func TestRecipientRefusedFailsAtOnce(t *testing.T) {
	srv := startSMTP(t, serverOptions{tls: "starttls", answer: func(int) error { return noSuchUser }})
	st := storetest.OpenSQLite(t)
	cfg := smtpConfig(srv, TLSStartTLS)
	c := newClock()
	createAndMail(t, st, newQueue(t, cfg, c))
	disp := newDispatcher(t, st, cfg, newSMTP(t, cfg), c)
	id := dueMails(t, st, c.Now())[0].ID
	if sent, failed := tick(t, disp); sent != 0 || failed != 1 {
		t.Fatalf("%d sent, %d failed; want failed at once", sent, failed)
	}
	if m := getMail(t, st, id); m.Status != store.MailFailed || m.Attempts != 1 || !strings.Contains(m.LastError, "550") {
		t.Fatalf("%+v", m)
	}
}

func TestBackoff(t *testing.T) {
	want := []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 6 * time.Hour, 6 * time.Hour, 6 * time.Hour}
	for i, w := range want {
		if got := backoff(i + 1); got != w {
			t.Errorf("backoff(%d) = %v, want %v", i+1, got, w)
		}
	}
}

// TestCrashLosesNothing: a mail queued in a committed transaction is sent
// by a dispatcher of another process (the store closed and opened again),
// and a mail claimed by a dispatcher that died is sent by another once the
// claim ends.
func TestCrashLosesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "canonid.db")
	open := func() store.Store {
		st, err := sqlite.Open(t.Context(), path, discardLog())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		return st
	}
	c := newClock()
	cfg := testConfig(DriverDir)
	cfg.Dir = filepath.Join(t.TempDir(), "mail")

	// Process 1 queues two mails, claims one, and dies before sending.
	st := open()
	createAndMail(t, st, newQueue(t, cfg, c))
	createAndMail2 := func() string {
		var id string
		fatalIf(t, st.Update(t.Context(), func(tx store.Tx) error {
			m := activation("")
			m.To = "other@perso.example"
			return newQueue(t, cfg, c).Enqueue(t.Context(), tx, m)
		}))
		for _, m := range dueMails(t, st, c.Now()) {
			if m.Recipient == "other@perso.example" {
				id = m.ID
			}
		}
		return id
	}
	claimedID := createAndMail2()
	fatalIf(t, st.Update(t.Context(), func(tx store.Tx) error {
		ok, err := tx.Mails().Claim(t.Context(), claimedID, c.Now(), c.Now().Add(time.Minute))
		if err == nil && !ok {
			err = errors.New("not claimed")
		}
		return err
	}))
	fatalIf(t, st.Close())

	// Process 2, new instances of everything.
	st = open()
	defer st.Close()
	cfg2 := testConfig(DriverDir) // the same secret, read again
	cfg2.Dir = cfg.Dir
	drv, err := NewDriver(cfg2, discardLog())
	fatalIf(t, err)
	disp := newDispatcher(t, st, cfg2, drv, c)
	if sent, failed := tick(t, disp); sent != 1 || failed != 0 {
		t.Fatalf("first Tick after the crash: %d sent, %d failed; want the unclaimed mail", sent, failed)
	}
	c.Advance(time.Minute) // the dead dispatcher's claim ends
	if sent, failed := tick(t, disp); sent != 1 || failed != 0 {
		t.Fatalf("Tick after the claim ended: %d sent, %d failed; want the claimed mail", sent, failed)
	}
	if m := getMail(t, st, claimedID); m.Status != store.MailSent || m.Attempts != 2 {
		t.Fatalf("the claimed mail: %+v", m)
	}
	files, _ := filepath.Glob(filepath.Join(cfg.Dir, "*.eml"))
	if len(files) != 2 {
		t.Fatalf("%d .eml files, want 2", len(files))
	}
}

// TestRollbackLeavesNoMail: a business transaction that fails takes its
// mail and its event with it.
func TestRollbackLeavesNoMail(t *testing.T) {
	st := storetest.OpenSQLite(t)
	c := newClock()
	q := newQueue(t, testConfig(DriverLog), c)
	head, err := st.Outbox().Head(t.Context())
	fatalIf(t, err)
	errRule := errors.New("login taken")
	err = st.Update(t.Context(), func(tx store.Tx) error {
		if err := q.Enqueue(t.Context(), tx, activation("")); err != nil {
			return err
		}
		return errRule
	})
	if !errors.Is(err, errRule) {
		t.Fatalf("Update = %v", err)
	}
	if due := dueMails(t, st, c.Now().Add(time.Hour)); len(due) != 0 {
		t.Fatalf("a rolled-back transaction left %d mails", len(due))
	}
	if h, _ := st.Outbox().Head(t.Context()); h != head {
		t.Fatal("a rolled-back transaction left events")
	}
}

// TestEnqueueChecks: what Enqueue refuses, in the caller's transaction.
func TestEnqueueChecks(t *testing.T) {
	st := storetest.OpenSQLite(t)
	c := newClock()
	q := newQueue(t, testConfig(DriverLog), c)
	for _, tc := range []struct {
		name string
		edit func(*Message)
		want string
	}{
		{"unknown template", func(m *Message) { m.Template = "welcome" }, `unknown mail template "welcome"`},
		{"not an address", func(m *Message) { m.To = "camille" }, "not an e-mail address"},
		{"address with a name", func(m *Message) { m.To = "Camille <c@example.org>" }, "not an e-mail address"},
		{"header injection", func(m *Message) { m.To = "c@example.org\r\nBcc: x@example.org" }, "not an e-mail address"},
		{"unknown locale", func(m *Message) { m.Locale = "de" }, `locale "de"`},
		{"missing data", func(m *Message) { delete(m.Data, "link") }, "missing data link"},
		{"bad date", func(m *Message) { m.Data["expires_at"] = "demain" }, "RFC 3339"},
	} {
		m := activation("")
		tc.edit(&m)
		err := st.Update(t.Context(), func(tx store.Tx) error { return q.Enqueue(t.Context(), tx, m) })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Enqueue = %v, want %q", tc.name, err, tc.want)
		}
	}
	if due := dueMails(t, st, c.Now().Add(time.Hour)); len(due) != 0 {
		t.Fatalf("refused mails were queued: %d", len(due))
	}
	// English, with a region.
	m := activation("")
	m.Locale = "en-GB"
	fatalIf(t, st.Update(t.Context(), func(tx store.Tx) error { return q.Enqueue(t.Context(), tx, m) }))
	if due := dueMails(t, st, c.Now()); len(due) != 1 || due[0].Locale != "en" {
		t.Fatalf("queued %+v, want one mail in en", due)
	}
}

// TestDirDriver: each mail becomes ID.eml, a parseable RFC 5322 message,
// written atomically.
func TestDirDriver(t *testing.T) {
	st := storetest.OpenSQLite(t)
	c := newClock()
	cfg := testConfig(DriverDir)
	cfg.Dir = filepath.Join(t.TempDir(), "outbox", "mail") // created
	createAndMail(t, st, newQueue(t, cfg, c))
	m := dueMails(t, st, c.Now())[0]
	drv, err := NewDriver(cfg, discardLog())
	fatalIf(t, err)
	disp := newDispatcher(t, st, cfg, drv, c)
	if sent, _ := tick(t, disp); sent != 1 {
		t.Fatalf("sent %d", sent)
	}
	entries, err := os.ReadDir(cfg.Dir)
	fatalIf(t, err)
	if len(entries) != 1 || entries[0].Name() != m.ID+".eml" {
		t.Fatalf("dir holds %v, want only %s.eml", entries, m.ID)
	}
	raw, err := os.ReadFile(filepath.Join(cfg.Dir, m.ID+".eml"))
	fatalIf(t, err)
	p := parseMail(t, raw)
	if p.Header.Get("To") != "<camille.martin@perso.example>" || p.Subject != "Activez votre compte Université de Test" {
		t.Fatalf("headers: %v, subject %q", p.Header, p.Subject)
	}
	if link := linkIn(p.Parts["text/plain"]); link != testLink {
		t.Fatalf("link = %q", link)
	}
	// Written again (a mail sent twice), it replaces itself.
	out := &Outgoing{ID: m.ID, Message: raw}
	fatalIf(t, drv.Send(t.Context(), out))
	if entries, _ := os.ReadDir(cfg.Dir); len(entries) != 1 {
		t.Fatalf("after a second write: %v", entries)
	}
	var perm *PermanentError
	if err := drv.Send(t.Context(), &Outgoing{ID: "../escape", Message: raw}); !errors.As(err, &perm) {
		t.Fatalf("an id naming another directory: %v", err)
	}
}

// TestLogDriver: the log gets the recipient, the subject and the text.
func TestLogDriver(t *testing.T) {
	st := storetest.OpenSQLite(t)
	c := newClock()
	cfg := testConfig(DriverLog)
	createAndMail(t, st, newQueue(t, cfg, c))
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	drv, err := NewDriver(cfg, logger)
	fatalIf(t, err)
	disp, err := NewDispatcher(st, cfg, drv, discardLog())
	fatalIf(t, err)
	disp.SetClock(c.Now)
	if sent, _ := tick(t, disp); sent != 1 {
		t.Fatalf("sent %d", sent)
	}
	out := buf.String()
	for _, want := range []string{"level=WARN", "development only", "to=camille.martin@perso.example",
		`subject="Activez votre compte Université de Test"`, testLink} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

// countingDriver counts the mails it is given, by id.
type countingDriver struct {
	mu   sync.Mutex
	sent map[string]int
}

func (d *countingDriver) Send(_ context.Context, m *Outgoing) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sent[m.ID]++
	return nil
}

// TestReplicasSendOnce: two dispatchers (replicas) ticking at once over one
// store send each mail exactly once.
func TestReplicasSendOnce(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		c := newClock()
		cfg := testConfig(DriverLog)
		q := newQueue(t, cfg, c)
		const n = 30
		fatalIf(t, st.Update(t.Context(), func(tx store.Tx) error {
			for range n {
				if err := q.Enqueue(t.Context(), tx, activation("")); err != nil {
					return err
				}
			}
			return nil
		}))
		drv := &countingDriver{sent: map[string]int{}}
		var wg sync.WaitGroup
		totals := make([]int, 2)
		for i := range totals {
			disp := newDispatcher(t, st, cfg, drv, c)
			wg.Go(func() {
				sent, _, err := disp.Tick(t.Context())
				if err != nil {
					t.Error(err)
				}
				totals[i] = sent
			})
		}
		wg.Wait()
		if totals[0]+totals[1] != n || len(drv.sent) != n {
			t.Fatalf("dispatchers sent %v, driver saw %d mails; want %d in all", totals, len(drv.sent), n)
		}
		for id, k := range drv.sent {
			if k != 1 {
				t.Errorf("mail %s sent %d times", id, k)
			}
		}
	})
}

// TestRunStops: Run sends what is due and returns when its context ends.
func TestRunStops(t *testing.T) {
	st := storetest.OpenSQLite(t)
	c := newClock()
	cfg := testConfig(DriverLog)
	createAndMail(t, st, newQueue(t, cfg, c))
	sent := make(chan struct{})
	drv := driverFunc(func(context.Context, *Outgoing) error { close(sent); return nil })
	disp := newDispatcher(t, st, cfg, drv, c)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { disp.Run(ctx); close(done) }()
	<-sent
	cancel()
	<-done
}

type driverFunc func(context.Context, *Outgoing) error

func (f driverFunc) Send(ctx context.Context, m *Outgoing) error { return f(ctx, m) }

// TestWrongSecret: a mail queued under another secret cannot be opened; it
// is tried again (the operator may restore the secret), never sent in
// clear.
func TestWrongSecret(t *testing.T) {
	st := storetest.OpenSQLite(t)
	c := newClock()
	cfg := testConfig(DriverLog)
	createAndMail(t, st, newQueue(t, cfg, c))
	other := cfg
	other.Secret = strings.Repeat("x", 32)
	drv := &countingDriver{sent: map[string]int{}}
	disp := newDispatcher(t, st, other, drv, c)
	if sent, failed := tick(t, disp); sent+failed != 0 || len(drv.sent) != 0 {
		t.Fatalf("%d sent, %d failed with the wrong secret", sent, failed)
	}
	m := dueMails(t, st, c.Now().Add(time.Minute))[0]
	if !strings.Contains(m.LastError, "cannot decrypt") {
		t.Fatalf("last error %q", m.LastError)
	}
}

func fatalIf(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
