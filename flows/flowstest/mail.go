package flowstest

import (
	"context"
	"net/url"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/canonid/canonid/notify"
	"github.com/canonid/canonid/notify/notifytest"
	"github.com/canonid/canonid/store"
)

// Mail is a flow's mail going out over a real SMTP conversation: notify's
// queue and dispatcher over the store, delivering to a notifytest.Server
// that keeps what it receives; the test reads the mails in order.
type Mail struct {
	t          *testing.T
	Queue      *notify.Queue
	Dispatcher *notify.Dispatcher
	Server     *notifytest.Server
	// read counts the mails already read by Receive.
	read int
}

// StartMail starts an SMTP server and notify's queue and dispatcher over
// st, configured by cfg with the server's host, port and certificate;
// now, unless nil, is their clock.
func StartMail(t *testing.T, st store.Store, cfg notify.Config, now func() time.Time) *Mail {
	t.Helper()
	m := &Mail{t: t, Server: notifytest.Start(t)}
	cfg.SMTP.Host, cfg.SMTP.Port, cfg.SMTP.CAFile = "127.0.0.1", m.Server.Port, m.Server.CAFile
	var err error
	if m.Queue, err = notify.NewQueue(cfg); err != nil {
		t.Fatal(err)
	}
	driver, err := notify.NewDriver(cfg, DiscardLogger())
	if err != nil {
		t.Fatal(err)
	}
	if m.Dispatcher, err = notify.NewDispatcher(st, cfg, driver, DiscardLogger()); err != nil {
		t.Fatal(err)
	}
	if now != nil {
		m.Queue.SetClock(now)
		m.Dispatcher.SetClock(now)
	}
	return m
}

// Receive sends the due mails over SMTP and returns the next mail
// received, in order; it fails the test unless every delivery succeeded
// and the mail came over TLS to one recipient.
func (m *Mail) Receive() notifytest.Mail {
	m.t.Helper()
	sent, failed, err := m.Dispatcher.Tick(m.t.Context())
	if err != nil || failed != 0 {
		m.t.Fatalf("Tick: %d sent, %d failed, %v", sent, failed, err)
	}
	got := m.Server.Received()
	if len(got) <= m.read {
		m.t.Fatalf("the SMTP server has %d mails, all read", len(got))
	}
	r := got[m.read]
	m.read++
	if !r.TLS || len(r.To) != 1 {
		m.t.Fatalf("envelope: TLS %v, to %v", r.TLS, r.To)
	}
	return r
}

// Read is Receive's recipient and decoded text/plain part.
func (m *Mail) Read() (to, text string) {
	m.t.Helper()
	r := m.Receive()
	return r.To[0], r.Text(m.t)
}

// Link returns the recipient and the link that re matches in the text of
// the next mail received.
func (m *Mail) Link(re *regexp.Regexp) (to, link string) {
	m.t.Helper()
	to, text := m.Read()
	link = re.FindString(text)
	if link == "" {
		m.t.Fatalf("no link in the mail to %s:\n%s", to, text)
	}
	return to, link
}

// None checks that no mail is due or received beyond those read.
func (m *Mail) None() {
	m.t.Helper()
	if _, _, err := m.Dispatcher.Tick(m.t.Context()); err != nil {
		m.t.Fatal(err)
	}
	if got := m.Server.Received(); len(got) != m.read {
		m.t.Fatalf("%d unexpected mails", len(got)-m.read)
	}
}

// Deliver sends the due mails over SMTP and checks that want went out.
func (m *Mail) Deliver(want int) {
	m.t.Helper()
	sent, failed, err := m.Dispatcher.Tick(m.t.Context())
	if err != nil || sent != want || failed != 0 {
		m.t.Fatalf("mail: sent %d, failed %d, %v; want %d sent", sent, failed, err, want)
	}
}

// PathOf returns the path and query of a mailed link, for the browser.
func PathOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.RequestURI()
}

// TokenOf returns the token of a mailed link.
func TokenOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("token")
}

// LinkRecorder is a notify queue that also keeps the link of each message
// it queues (its "link" datum): the fuzz targets read the links mailed
// without sending them.
type LinkRecorder struct {
	Queue *notify.Queue
	mu    sync.Mutex
	links []string
}

// Enqueue queues m and keeps its link.
func (r *LinkRecorder) Enqueue(ctx context.Context, tx store.Tx, m notify.Message) error {
	if err := r.Queue.Enqueue(ctx, tx, m); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.links = append(r.links, m.Data["link"])
	return nil
}

// LastToken returns the token of the last link queued.
func (r *LinkRecorder) LastToken(tb testing.TB) string {
	tb.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.links) == 0 {
		tb.Fatal("no link queued")
	}
	u, err := url.Parse(r.links[len(r.links)-1])
	if err != nil || u.Query().Get("token") == "" {
		tb.Fatalf("no token in link %q", r.links[len(r.links)-1])
	}
	return u.Query().Get("token")
}
