package registration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/notify"
	"github.com/canonid/canonid/store/storetest"
)

// TestSeedStoryOverSMTP is the seed story with its mails going through a
// real SMTP conversation (STARTTLS): the confirmation link is read from the
// mail the server received, and the validation notice arrives the same way.
func TestSeedStoryOverSMTP(t *testing.T) {
	st := storetest.OpenSQLite(t)
	e := newEnv(t, st)
	srv := startSMTP(t)
	cfg := notify.Config{Driver: notify.DriverSMTP, From: "CPTS <noreply@cpts.example>", SiteName: "Inzee",
		Secret: "0123456789abcdef0123456789abcdef-test", Location: time.UTC,
		SMTP: notify.SMTPConfig{Host: "127.0.0.1", Port: srv.Port, CAFile: srv.CAFile}}
	logger := slog.New(slog.DiscardHandler)
	drv, err := notify.NewDriver(cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	d, err := notify.NewDispatcher(st, cfg, drv, logger)
	if err != nil {
		t.Fatal(err)
	}
	d.SetClock(e.clock.Now)
	ctx := context.Background()
	tick := func(want int) {
		t.Helper()
		sent, failed, err := d.Tick(ctx)
		if err != nil || sent != want || failed != 0 {
			t.Fatalf("dispatch: sent %d, failed %d, %v; want %d sent", sent, failed, err, want)
		}
	}

	if err := e.svc.Register(ctx, "cpts-x", "marie.curie@example.org", "Marie", "Curie", "", "fr"); err != nil {
		t.Fatal(err)
	}
	tick(1)
	mails := srv.received()
	if len(mails) != 1 || !mails[0].TLS || len(mails[0].To) != 1 || mails[0].To[0] != "marie.curie@example.org" {
		t.Fatalf("received %+v", mails)
	}
	// Undo quoted-printable soft breaks and "=3D" to find the link.
	body := strings.NewReplacer("=\r\n", "", "=3D", "=").Replace(string(mails[0].Data))
	m := regexp.MustCompile(`/register/confirm\?token=([A-Za-z0-9_-]+)`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no link in the mail:\n%s", body)
	}
	res := e.do("POST", PathConfirm, "", nil, url.Values{fieldToken: {m[1]}, fieldPassword: {testPassword}, fieldPasswordAgain: {testPassword}})
	if res.Status != 200 {
		t.Fatalf("POST confirm: %d %s", res.Status, res.Raw)
	}
	tick(1) // registration_received
	a := e.accountOf("marie.curie@example.org")
	if res := e.do("POST", "/api/v1/orgs/cpts-x/members/"+a.ID+"/validate", "admin-x", nil, nil); res.Status != 200 {
		t.Fatalf("validate: %d %s", res.Status, res.Raw)
	}
	tick(1) // member_validated
	if n := len(srv.received()); n != 3 {
		t.Errorf("%d mails received, want 3", n)
	}
	if a := e.accountOf("marie.curie@example.org"); a.Status != identity.StatusActive {
		t.Errorf("account %s after validation", a.Status)
	}
	storetest.CheckInvariants(t, st)
}

// --- a real SMTP server (emersion/go-smtp), as in notify's tests ----------

type smtpServer struct {
	Port   int
	CAFile string

	mu    sync.Mutex
	mails []receivedMail
}

type receivedMail struct {
	From string
	To   []string
	Data []byte
	TLS  bool
}

func startSMTP(t *testing.T) *smtpServer {
	t.Helper()
	cert, caFile := testCertificate(t)
	s := &smtpServer{CAFile: caFile}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(c *gosmtp.Conn) (gosmtp.Session, error) {
		return &smtpSession{srv: s, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.MaxMessageBytes = 1 << 20
	srv.ErrorLog = discardLogger{}
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Port = l.Addr().(*net.TCPAddr).Port
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(l) }()
	t.Cleanup(func() { srv.Close(); l.Close(); <-done })
	return s
}

func (s *smtpServer) received() []receivedMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]receivedMail(nil), s.mails...)
}

type smtpSession struct {
	srv  *smtpServer
	conn *gosmtp.Conn
	from string
	to   []string
}

func (s *smtpSession) Mail(from string, _ *gosmtp.MailOptions) error { s.from = from; return nil }
func (s *smtpSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.srv.mu.Lock()
	s.srv.mails = append(s.srv.mails, receivedMail{From: s.from, To: s.to, Data: b, TLS: isTLS})
	s.srv.mu.Unlock()
	return nil
}

func (s *smtpSession) Reset()        { s.from, s.to = "", nil }
func (s *smtpSession) Logout() error { return nil }

// testCertificate makes a self-signed certificate for 127.0.0.1 and writes
// it as a PEM file to trust (smtp.ca_file).
func testCertificate(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "canonid test SMTP server"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "smtp-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, caFile
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
func (discardLogger) Println(...any)        {}
