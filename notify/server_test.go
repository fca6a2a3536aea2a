package notify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
)

// smtpServer is a real SMTP server (emersion/go-smtp) on 127.0.0.1 that keeps
// what it receives.
type smtpServer struct {
	Port int
	// CAFile is the PEM of the server's self-signed certificate.
	CAFile string

	user, pass string
	// answer, when set, answers the n-th RCPT (from 1): nil accepts.
	answer func(n int) error

	mu    sync.Mutex
	rcpts int
	mails []receivedMail
}

type receivedMail struct {
	From string
	To   []string
	Data []byte
	TLS  bool
	Auth bool
}

type serverOptions struct {
	// tls: "starttls" (offered), "tls" (implicit) or "none" (no TLS).
	tls        string
	user, pass string
	answer     func(n int) error
}

func startSMTP(t *testing.T, o serverOptions) *smtpServer {
	t.Helper()
	cert, caFile := testCertificate(t)
	s := &smtpServer{CAFile: caFile, user: o.user, pass: o.pass, answer: o.answer}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(c *gosmtp.Conn) (gosmtp.Session, error) {
		return &smtpSession{srv: s, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.MaxMessageBytes = 1 << 20
	srv.ErrorLog = discardLogger{}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	switch o.tls {
	case "starttls":
		srv.TLSConfig = tc
	case "tls":
		l = tls.NewListener(l, tc)
	}
	s.Port = l.Addr().(*net.TCPAddr).Port
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(l) }()
	// Closing the listener too: a Close that comes before Serve has
	// registered it would otherwise leave Serve waiting for ever.
	t.Cleanup(func() { srv.Close(); l.Close(); <-done })
	return s
}

func (s *smtpServer) received() []receivedMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]receivedMail(nil), s.mails...)
}

func (s *smtpServer) rcptCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rcpts
}

type smtpSession struct {
	srv  *smtpServer
	conn *gosmtp.Conn
	auth bool
	from string
	to   []string
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if s.srv.user == "" || user != s.srv.user || pass != s.srv.pass {
			return gosmtp.ErrAuthFailed
		}
		s.auth = true
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *gosmtp.MailOptions) error {
	if s.srv.user != "" && !s.auth {
		return gosmtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	s.srv.mu.Lock()
	s.srv.rcpts++
	n := s.srv.rcpts
	s.srv.mu.Unlock()
	if s.srv.answer != nil {
		if err := s.srv.answer(n); err != nil {
			return err
		}
	}
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
	s.srv.mails = append(s.srv.mails, receivedMail{From: s.from, To: s.to, Data: b, TLS: isTLS, Auth: s.auth})
	s.srv.mu.Unlock()
	return nil
}

func (s *smtpSession) Reset()        { s.from, s.to = "", nil }
func (s *smtpSession) Logout() error { return nil }

// tryLater is what a greylisting server answers.
var tryLater = &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 7, 1}, Message: "greylisted, try again later"}

// noSuchUser is a permanent refusal of the recipient.
var noSuchUser = &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such user"}

// testCertificate makes a self-signed certificate for 127.0.0.1 and
// localhost, and writes it as a PEM file to trust (smtp.ca_file).
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
