package notify

import (
	"bytes"
	"context"
	"errors"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
)

func smtpConfig(s *smtpServer, mode string) Config {
	cfg := testConfig(DriverSMTP)
	cfg.SMTP = SMTPConfig{Host: "127.0.0.1", Port: s.Port, TLS: mode, CAFile: s.CAFile, Timeout: 5 * time.Second}
	if s.user != "" {
		cfg.SMTP.Username, cfg.SMTP.Password = s.user, s.pass
	}
	return cfg
}

func newSMTP(t *testing.T, cfg Config) Driver {
	t.Helper()
	d, err := NewDriver(cfg, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestSMTPConversation: an account created with its activation mail in one
// transaction; the dispatcher sends it over STARTTLS with AUTH PLAIN to a
// real SMTP server, which receives a well-formed message carrying the link.
func TestSMTPConversation(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		srv := startSMTP(t, serverOptions{tls: "starttls", user: "canonid", pass: "s3cret-Passw0rd"})
		cfg := smtpConfig(srv, TLSStartTLS)
		c := newClock()
		q := newQueue(t, cfg, c)
		accountID := createAndMail(t, st, q)

		due := dueMails(t, st, c.Now())
		if len(due) != 1 {
			t.Fatalf("%d mails due, want 1", len(due))
		}
		m := due[0]
		if m.AccountID != accountID || m.Template != TemplateActivation || m.Locale != "fr" || m.Recipient != "camille.martin@perso.example" {
			t.Fatalf("queued %+v", m)
		}
		// The payload holds the link, encrypted: not the link, not its token.
		for _, secret := range []string{testLink, "c2VjcmV0LW9uZS10aW1lLXRva2Vu", "camille.martin"} {
			if bytes.Contains(m.Payload, []byte(secret)) {
				t.Fatalf("the stored payload holds %q in clear", secret)
			}
		}

		c.Advance(2 * time.Second)
		disp := newDispatcher(t, st, cfg, newSMTP(t, cfg), c)
		sent, failed, err := disp.Tick(t.Context())
		if err != nil || sent != 1 || failed != 0 {
			t.Fatalf("Tick = %d sent, %d failed, %v; want 1 sent", sent, failed, err)
		}

		got := srv.received()
		if len(got) != 1 {
			t.Fatalf("the server received %d mails, want 1", len(got))
		}
		r := got[0]
		if !r.TLS || !r.Auth || r.From != "noreply@univ-test.example" || len(r.To) != 1 || r.To[0] != "camille.martin@perso.example" {
			t.Fatalf("envelope: %+v", r)
		}
		p := parseMail(t, r.Data)
		if p.From.Name != "Université de Test" || p.From.Address != "noreply@univ-test.example" {
			t.Errorf("From = %+v", p.From)
		}
		if to, err := mail.ParseAddress(p.Header.Get("To")); err != nil || to.Address != "camille.martin@perso.example" {
			t.Errorf("To = %q", p.Header.Get("To"))
		}
		if p.Subject != "Activez votre compte Université de Test" || !strings.HasPrefix(p.Header.Get("Subject"), "=?utf-8?q?") {
			t.Errorf("Subject = %q (raw %q), want it MIME-encoded", p.Subject, p.Header.Get("Subject"))
		}
		if date, err := p.Header.Date(); err != nil || !date.Equal(c.Now()) {
			t.Errorf("Date = %v, %v; want %v", date, err, c.Now())
		}
		if id := p.Header.Get("Message-ID"); id != "<"+m.ID+"@univ-test.example>" {
			t.Errorf("Message-ID = %q", id)
		}
		if p.Header.Get("MIME-Version") != "1.0" || p.Header.Get("Content-Language") != "fr" || p.Header.Get("Auto-Submitted") != "auto-generated" {
			t.Errorf("headers: %v", p.Header)
		}
		if len(p.Order) != 2 || p.Order[0] != "text/plain" || p.Order[1] != "text/html" {
			t.Fatalf("parts %v, want text/plain then text/html", p.Order)
		}
		text, html := p.Parts["text/plain"], p.Parts["text/html"]
		if link := linkIn(text); link != testLink {
			t.Errorf("link in the text part = %q, want %q:\n%s", link, testLink, text)
		}
		if !strings.Contains(text, "Votre identifiant de connexion est : camille.martin") ||
			!strings.Contains(text, "jusqu'au lundi 30 mars 2026 à 21:59") {
			t.Errorf("text part:\n%s", text)
		}
		if !strings.Contains(html, `<a href="`+testLink+`"`) || !strings.Contains(html, "<strong>camille.martin</strong>") {
			t.Errorf("html part:\n%s", html)
		}

		// Sent: the payload is gone, and the audit tells the story.
		after := getMail(t, st, m.ID)
		if after.Status != store.MailSent || after.Payload != nil || !after.SentAt.Equal(c.Now()) || after.Attempts != 1 {
			t.Fatalf("after sending: %+v", after)
		}
		if got := auditTypes(t, st, accountID); strings.Join(got, ",") != "account.created,mail.queued,mail.sent" {
			t.Fatalf("audit = %v", got)
		}
		if sent, failed, err := disp.Tick(t.Context()); err != nil || sent+failed != 0 {
			t.Fatalf("second Tick = %d, %d, %v; want nothing", sent, failed, err)
		}
	})
}

func testOutgoing() *Outgoing {
	return &Outgoing{ID: "m1", From: "noreply@univ-test.example", To: "a@example.org",
		Message: []byte("From: noreply@univ-test.example\r\nTo: a@example.org\r\nSubject: t\r\n\r\nhello\r\n")}
}

// TestSMTPSecurity: STARTTLS is required and the certificate verified;
// credentials go only over TLS; implicit TLS works.
func TestSMTPSecurity(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name    string
		server  serverOptions
		mode    string
		tweak   func(*Config)
		wantErr string
	}{
		{"starttls", serverOptions{tls: "starttls", user: "u", pass: "p"}, TLSStartTLS, nil, ""},
		{"implicit tls", serverOptions{tls: "tls", user: "u", pass: "p"}, TLSImplicit, nil, ""},
		{"clear text on loopback, no credentials", serverOptions{tls: "none"}, TLSNone, nil, ""},
		{"no STARTTLS offered", serverOptions{tls: "none"}, TLSStartTLS, nil, "does not offer STARTTLS"},
		{"unknown certificate authority", serverOptions{tls: "starttls"}, TLSStartTLS,
			func(c *Config) { c.SMTP.CAFile = "" }, "certificate"},
		{"insecure_skip_verify", serverOptions{tls: "starttls"}, TLSStartTLS,
			func(c *Config) { c.SMTP.CAFile, c.SMTP.InsecureSkipVerify = "", true }, ""},
		{"wrong password", serverOptions{tls: "starttls", user: "u", pass: "p"}, TLSStartTLS,
			func(c *Config) { c.SMTP.Password = "wrong" }, "535"},
		{"credentials needed", serverOptions{tls: "starttls", user: "u", pass: "p"}, TLSStartTLS,
			func(c *Config) { c.SMTP.Username, c.SMTP.Password = "", "" }, "MAIL FROM"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := startSMTP(t, tc.server)
			cfg := smtpConfig(srv, tc.mode)
			if tc.tweak != nil {
				tc.tweak(&cfg)
			}
			err := newSMTP(t, cfg).Send(ctx, testOutgoing())
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got := srv.received(); len(got) != 1 || got[0].TLS != (tc.mode != TLSNone) || got[0].Auth != (cfg.SMTP.Username != "") {
					t.Fatalf("received %+v", got)
				}
				return
			}
			var perm *PermanentError
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || errors.As(err, &perm) {
				t.Fatalf("Send = %v, want a transient error with %q", err, tc.wantErr)
			}
			if len(srv.received()) != 0 {
				t.Fatal("the server received the mail")
			}
		})
	}
}

// TestSMTPRecipientRefused: a 5xx answer to RCPT is permanent, a 4xx is not.
func TestSMTPRecipientRefused(t *testing.T) {
	for _, c := range []struct {
		answer    error
		permanent bool
	}{{noSuchUser, true}, {tryLater, false}} {
		srv := startSMTP(t, serverOptions{tls: "starttls", answer: func(int) error { return c.answer }})
		err := newSMTP(t, smtpConfig(srv, TLSStartTLS)).Send(context.Background(), testOutgoing())
		var perm *PermanentError
		if err == nil || errors.As(err, &perm) != c.permanent {
			t.Errorf("answer %v: Send = %v, permanent %t, want %t", c.answer, err, errors.As(err, &perm), c.permanent)
		}
	}
}

// TestSMTPCancel: cancelling the context ends a conversation at once.
func TestSMTPCancel(t *testing.T) {
	srv := startSMTP(t, serverOptions{tls: "starttls"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := newSMTP(t, smtpConfig(srv, TLSStartTLS)).Send(ctx, testOutgoing()); err == nil {
		t.Fatal("Send with a cancelled context succeeded")
	}
}
