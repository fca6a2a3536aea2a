package notify

import (
	"errors"
	"fmt"
	"net/mail"
	"os"
	"strings"
	"time"
)

// Config configures mail: the driver that delivers, the sender, the secret
// that protects queued mails, and the dispatcher's pace. Zero values stand
// for the defaults DefaultConfig shows.
type Config struct {
	// Driver is smtp (production), log (development: each message is
	// written to the log, links included, and not sent) or dir
	// (development: one RFC 5322 .eml file per message in Dir).
	Driver string `yaml:"driver"`
	// From is the sender: an address, with a display name if wanted
	// ("Université de Test <noreply@univ-test.example>"). Its domain also
	// names the Message-IDs.
	From string `yaml:"from"`
	// SiteName names the service in the mails. Default "canonid".
	SiteName string `yaml:"site_name"`
	// SMTP configures the smtp driver.
	SMTP SMTPConfig `yaml:"smtp"`
	// Dir is where the dir driver writes, created if missing.
	Dir string `yaml:"dir"`
	// Secret encrypts the queued mails' data (recipient and template data,
	// one-time links included) in the database (AES-256-GCM, with a key
	// derived from it). At least 32 characters; keep it in the environment
	// (${CANONID_MAIL_SECRET}). Every replica needs the same one, and a
	// mail queued under another secret cannot be sent.
	Secret string `yaml:"secret"`
	// PollInterval is how often the dispatcher looks for due mails.
	// Default 5s.
	PollInterval time.Duration `yaml:"poll_interval"`
	// MaxAttempts is how many times a mail is tried before it is given up.
	// Default 8 (about 20 hours of retries).
	MaxAttempts int `yaml:"max_attempts"`
	// Location is the time zone dates are written in, set by the wiring
	// from the top-level timezone; nil means Europe/Paris.
	Location *time.Location `yaml:"-"`
}

// SMTPConfig configures the smtp driver.
type SMTPConfig struct {
	// Host is the mail server (a relay or submission server).
	Host string `yaml:"host"`
	// Port defaults to 587 with starttls, 465 with tls, 25 with none.
	Port int `yaml:"port"`
	// TLS is starttls (the default: the server must offer STARTTLS, there
	// is no fallback to clear text), tls (implicit TLS from the first
	// byte) or none (clear text, only to a server on the loopback
	// interface: 127.0.0.1, ::1, localhost).
	TLS string `yaml:"tls"`
	// Username and Password, when set, authenticate with AUTH PLAIN,
	// which is only ever sent over TLS.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// Timeout bounds one whole SMTP conversation. Default 30s.
	Timeout time.Duration `yaml:"timeout"`
	// Helo is the name given in EHLO. Default the machine's host name.
	Helo string `yaml:"helo"`
	// CAFile is a PEM file of certificate authorities to trust for the
	// server's certificate instead of the system's (a relay with a private
	// CA).
	CAFile string `yaml:"ca_file"`
	// InsecureSkipVerify accepts any server certificate. For tests only: it
	// lets anyone in the path read the mails.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// TLS modes of SMTPConfig.TLS.
const (
	TLSStartTLS = "starttls"
	TLSImplicit = "tls"
	TLSNone     = "none"
)

// Drivers of Config.Driver.
const (
	DriverSMTP = "smtp"
	DriverLog  = "log"
	DriverDir  = "dir"
)

// DefaultConfig returns the settings used when the file says nothing. It
// names no driver: the mail section must choose one.
func DefaultConfig() Config {
	return Config{
		SiteName:     "canonid",
		SMTP:         SMTPConfig{TLS: TLSStartTLS, Timeout: 30 * time.Second},
		PollInterval: 5 * time.Second,
		MaxAttempts:  8,
	}
}

// withDefaults is c with its zero values replaced by the defaults.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.SiteName == "" {
		c.SiteName = d.SiteName
	}
	if c.SMTP.TLS == "" {
		c.SMTP.TLS = d.SMTP.TLS
	}
	if c.SMTP.Port == 0 {
		switch c.SMTP.TLS {
		case TLSImplicit:
			c.SMTP.Port = 465
		case TLSNone:
			c.SMTP.Port = 25
		default:
			c.SMTP.Port = 587
		}
	}
	if c.SMTP.Timeout == 0 {
		c.SMTP.Timeout = d.SMTP.Timeout
	}
	if c.SMTP.Helo == "" {
		c.SMTP.Helo = "localhost"
		if h, err := os.Hostname(); err == nil && h != "" {
			c.SMTP.Helo = h
		}
	}
	if c.PollInterval == 0 {
		c.PollInterval = d.PollInterval
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = d.MaxAttempts
	}
	if c.Location == nil {
		c.Location = time.UTC
		if loc, err := time.LoadLocation("Europe/Paris"); err == nil {
			c.Location = loc
		}
	}
	return c
}

// Validate reports every problem of c at once, each prefixed with its key.
// Zero values are read as their defaults.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch c.Driver {
	case DriverSMTP, DriverLog, DriverDir:
	default:
		add("driver: must be smtp, log or dir, got %q", c.Driver)
	}
	if c.From == "" {
		add("from: must be set (the sender address)")
	} else if _, err := mail.ParseAddress(c.From); err != nil {
		add("from: %q is not an address: %v", c.From, err)
	}
	if strings.ContainsAny(c.SiteName, "\r\n") {
		add("site_name: must be one line")
	}
	if len(c.Secret) < 32 {
		add("secret: must hold at least 32 characters (got %d)", len(c.Secret))
	}
	if c.PollInterval < time.Second || c.PollInterval > time.Hour {
		add("poll_interval: must be between 1s and 1h, got %v", c.PollInterval)
	}
	if c.MaxAttempts < 1 || c.MaxAttempts > 100 {
		add("max_attempts: must be between 1 and 100, got %d", c.MaxAttempts)
	}
	switch c.Driver {
	case DriverSMTP:
		errs = append(errs, c.SMTP.validate()...)
	case DriverDir:
		if c.Dir == "" {
			add("dir: must be set for the dir driver")
		}
	}
	return errors.Join(errs...)
}

func (s SMTPConfig) validate() []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf("smtp."+format, args...)) }
	if s.Host == "" {
		add("host: must be set for the smtp driver")
	}
	if s.Port < 1 || s.Port > 65535 {
		add("port: must be between 1 and 65535, got %d", s.Port)
	}
	switch s.TLS {
	case TLSStartTLS, TLSImplicit:
	case TLSNone:
		if s.Host != "" && !loopback(s.Host) {
			add("tls: none only for a server on the loopback interface (127.0.0.1, ::1, localhost), not %q; use starttls or tls", s.Host)
		}
		if s.Username != "" || s.Password != "" {
			add("tls: none sends no credentials: username and password need starttls or tls")
		}
	default:
		add("tls: must be starttls, tls or none, got %q", s.TLS)
	}
	if (s.Username == "") != (s.Password == "") {
		add("username, password: give both or neither")
	}
	if s.Timeout < time.Second {
		add("timeout: must be at least 1s, got %v", s.Timeout)
	}
	if strings.ContainsAny(s.Helo, " \r\n") {
		add("helo: must be a host name, got %q", s.Helo)
	}
	if s.CAFile != "" {
		if _, err := os.Stat(s.CAFile); err != nil {
			add("ca_file: %v", err)
		}
	}
	return errs
}

// loopback reports whether host names the loopback interface.
func loopback(host string) bool {
	switch strings.ToLower(host) {
	case "127.0.0.1", "::1", "localhost":
		return true
	}
	return false
}
