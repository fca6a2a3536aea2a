package notify

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/internal/clocktest"
	"github.com/canonid/canonid/store"
)

func newClock() *clocktest.Clock { return clocktest.New(time.Date(2026, 3, 29, 10, 0, 0, 0, time.UTC)) }

func testConfig(driver string) Config {
	return Config{
		Driver:   driver,
		From:     "Université de Test <noreply@univ-test.example>",
		SiteName: "Université de Test",
		Secret:   testSecret,
		Location: time.UTC,
	}
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newQueue(t testing.TB, cfg Config, c *clocktest.Clock) *Queue {
	t.Helper()
	q, err := NewQueue(cfg)
	if err != nil {
		t.Fatal(err)
	}
	q.SetClock(c.Now)
	return q
}

func newDispatcher(t testing.TB, st store.Store, cfg Config, d Driver, c *clocktest.Clock) *Dispatcher {
	t.Helper()
	disp, err := NewDispatcher(st, cfg, d, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	disp.SetClock(c.Now)
	return disp
}

const testLink = "https://id.univ-test.example/activate?t=c2VjcmV0LW9uZS10aW1lLXRva2Vu"

// activation is the mail of an account created for camille.
func activation(accountID string) Message {
	return Message{To: "camille.martin@perso.example", Template: TemplateActivation, AccountID: accountID,
		Data:  map[string]string{"login": "camille.martin", "link": testLink, "expires_at": "2026-03-30T21:59:00Z"},
		Actor: "token:hr"}
}

// createAndMail creates an account and queues its activation mail in one
// business transaction, as a flow does; it returns the account id.
func createAndMail(t testing.TB, st store.Store, q *Queue) string {
	t.Helper()
	var id string
	err := st.Update(context.Background(), func(tx store.Tx) error {
		a := identity.Account{Status: identity.StatusPendingActivation, Login: "camille.martin", GivenName: "Camille", FamilyName: "Martin"}
		if err := tx.Accounts().Create(context.Background(), &a); err != nil {
			return err
		}
		if err := tx.Record(context.Background(), store.Event{Type: "account.created", Actor: "token:hr", AccountID: a.ID}); err != nil {
			return err
		}
		id = a.ID
		return q.Enqueue(context.Background(), tx, activation(a.ID))
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// dueMails returns the mails due at at.
func dueMails(t testing.TB, st store.Store, at time.Time) []store.QueuedMail {
	t.Helper()
	var out []store.QueuedMail
	if err := st.View(context.Background(), func(tx store.Tx) error {
		var err error
		out, err = tx.Mails().Due(context.Background(), at, 1000)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func getMail(t testing.TB, st store.Store, id string) store.QueuedMail {
	t.Helper()
	var m store.QueuedMail
	if err := st.View(context.Background(), func(tx store.Tx) error {
		var err error
		m, err = tx.Mails().Get(context.Background(), id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return m
}

func auditTypes(t testing.TB, st store.Store, accountID string) []string {
	t.Helper()
	var out []string
	if err := st.View(context.Background(), func(tx store.Tx) error {
		entries, err := tx.Audit().List(context.Background(), store.AuditQuery{AccountID: accountID, Limit: 1000})
		for i := len(entries) - 1; i >= 0; i-- { // oldest first
			out = append(out, entries[i].Type)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// parsedMail is a received message, read back with net/mail and
// mime/multipart.
type parsedMail struct {
	Header  mail.Header
	Subject string
	From    *mail.Address
	Parts   map[string]string // content type -> decoded body
	Order   []string
}

func parseMail(t testing.TB, raw []byte) parsedMail {
	t.Helper()
	if bytes.Contains(bytes.ReplaceAll(raw, []byte("\r\n"), nil), []byte("\n")) {
		t.Errorf("the message has bare line feeds")
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("not an RFC 5322 message: %v\n%s", err, raw)
	}
	p := parsedMail{Header: msg.Header, Parts: map[string]string{}}
	if p.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		t.Fatalf("subject: %v", err)
	}
	if p.From, err = mail.ParseAddress(msg.Header.Get("From")); err != nil {
		t.Fatalf("from: %v", err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q: %v", msg.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ct, ps, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if ps["charset"] != "utf-8" {
			t.Errorf("part %s: charset %q", ct, ps["charset"])
		}
		b, err := io.ReadAll(part)
		if err != nil {
			t.Fatal(err)
		}
		p.Parts[ct] = string(b)
		p.Order = append(p.Order, ct)
	}
	return p
}

// linkIn finds the first https link of s.
func linkIn(s string) string {
	i := strings.Index(s, "https://")
	if i < 0 {
		return ""
	}
	return strings.FieldsFunc(s[i:], func(r rune) bool { return r == '\n' || r == '\r' || r == ' ' || r == '"' || r == '<' })[0]
}
