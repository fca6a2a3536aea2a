package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
)

// Driver delivers composed mails. An error makes the dispatcher try again
// later, unless it is a *PermanentError.
type Driver interface {
	Send(ctx context.Context, m *Outgoing) error
}

// PermanentError is a refusal that trying again would not change (the
// server does not know the recipient): the mail fails at once.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// NewDriver returns the driver cfg names: smtp, log or dir.
func NewDriver(cfg Config, logger *slog.Logger) (Driver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("mail: %w", err)
	}
	cfg = cfg.withDefaults()
	switch cfg.Driver {
	case DriverSMTP:
		return newSMTPDriver(cfg.SMTP)
	case DriverDir:
		return newDirDriver(cfg.Dir)
	default:
		logger.Warn("mail driver is log: mails are written to the log, one-time links included, and not sent; for development only")
		return logDriver{log: logger}, nil
	}
}

// logDriver writes each mail to the log instead of sending it. For
// development only: the log then holds the one-time links.
type logDriver struct{ log *slog.Logger }

func (d logDriver) Send(ctx context.Context, m *Outgoing) error {
	d.log.InfoContext(ctx, "mail not sent (log driver)", "mail_id", m.ID, "to", m.To, "subject", m.Subject, "text", m.Text)
	return nil
}

// dirDriver writes each mail as an RFC 5322 file, ID.eml, in a directory.
// For development: a mail client or a test reads them. The file appears
// whole or not at all (written aside, synced, then renamed), and a mail
// written twice replaces itself.
type dirDriver struct{ dir string }

func newDirDriver(dir string) (*dirDriver, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("mail dir: %w", err)
	}
	return &dirDriver{dir: dir}, nil
}

var fileID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

func (d *dirDriver) Send(_ context.Context, m *Outgoing) error {
	if !fileID.MatchString(m.ID) {
		return &PermanentError{fmt.Errorf("mail id %q cannot name a file", m.ID)}
	}
	f, err := os.CreateTemp(d.dir, ".mail-*.tmp")
	if err != nil {
		return err
	}
	_, err = f.Write(m.Message)
	err = errors.Join(err, f.Sync(), f.Close())
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(d.dir, m.ID+".eml"))
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write mail %s: %w", m.ID, err)
	}
	if dir, err := os.Open(d.dir); err == nil { // make the rename durable
		_ = dir.Sync()
		dir.Close()
	}
	return nil
}
