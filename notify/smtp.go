package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// smtpDriver sends each mail in an SMTP conversation of its own: TLS
// (STARTTLS, required, or implicit), AUTH PLAIN when configured, MAIL, RCPT,
// DATA. A 5xx answer to RCPT (the server refuses the recipient) is
// permanent; every other failure is tried again later.
type smtpDriver struct {
	cfg SMTPConfig
	tls *tls.Config
}

func newSMTPDriver(cfg SMTPConfig) (*smtpDriver, error) {
	tc := &tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipVerify}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("mail smtp.ca_file: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mail smtp.ca_file: no PEM certificate in %s", cfg.CAFile)
		}
	}
	return &smtpDriver{cfg: cfg, tls: tc}, nil
}

func (d *smtpDriver) Send(ctx context.Context, m *Outgoing) error {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	addr := net.JoinHostPort(d.cfg.Host, strconv.Itoa(d.cfg.Port))
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", addr, err)
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		return err
	}
	// Cancelling ctx (shutdown) interrupts the conversation.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if d.cfg.TLS == TLSImplicit {
		tc := tls.Client(conn, d.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("smtp %s: tls: %w", addr, err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, d.cfg.Host)
	if err != nil {
		return fmt.Errorf("smtp %s: greeting: %w", addr, err)
	}
	defer c.Close()
	if err := c.Hello(d.cfg.Helo); err != nil {
		return fmt.Errorf("smtp %s: EHLO: %w", addr, err)
	}
	if d.cfg.TLS == TLSStartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return fmt.Errorf("smtp %s: the server does not offer STARTTLS, which smtp.tls: starttls requires", addr)
		}
		if err := c.StartTLS(d.tls); err != nil {
			return fmt.Errorf("smtp %s: STARTTLS: %w", addr, err)
		}
	}
	if d.cfg.Username != "" {
		if _, ok := c.TLSConnectionState(); !ok {
			return fmt.Errorf("smtp %s: refusing to send credentials without TLS", addr)
		}
		ok, mechs := c.Extension("AUTH")
		if !ok || !slices.Contains(strings.Fields(strings.ToUpper(mechs)), "PLAIN") {
			return fmt.Errorf("smtp %s: the server does not offer AUTH PLAIN (offers %q)", addr, mechs)
		}
		if err := c.Auth(smtp.PlainAuth("", d.cfg.Username, d.cfg.Password, d.cfg.Host)); err != nil {
			return fmt.Errorf("smtp %s: AUTH: %w", addr, err)
		}
	}
	if err := c.Mail(m.From); err != nil {
		return fmt.Errorf("smtp %s: MAIL FROM: %w", addr, err)
	}
	if err := c.Rcpt(m.To); err != nil {
		err = fmt.Errorf("smtp %s: RCPT TO: %w", addr, err)
		if code(err) >= 500 {
			return &PermanentError{err}
		}
		return err
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp %s: DATA: %w", addr, err)
	}
	if _, err := w.Write(m.Message); err != nil {
		return fmt.Errorf("smtp %s: DATA: %w", addr, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp %s: end of DATA: %w", addr, err)
	}
	// The server took the mail; a failed QUIT changes nothing.
	_ = c.Quit()
	return nil
}

// code is the SMTP reply code of err, 0 if it carries none.
func code(err error) int {
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}
