package notify

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

const testSecret = "0123456789abcdef0123456789abcdef-test"

func TestConfigValidate(t *testing.T) {
	ok := []Config{
		{Driver: "log", From: "noreply@univ-test.example", Secret: testSecret},
		{Driver: "dir", From: "Université de Test <noreply@univ-test.example>", Dir: "/tmp/mail", Secret: testSecret},
		{Driver: "smtp", From: "noreply@univ-test.example", Secret: testSecret, SMTP: SMTPConfig{Host: "smtp.univ-test.example"}},
		{Driver: "smtp", From: "noreply@univ-test.example", Secret: testSecret,
			SMTP: SMTPConfig{Host: "smtp.univ-test.example", Port: 465, TLS: "tls", Username: "canonid", Password: "pw"}},
		{Driver: "smtp", From: "noreply@univ-test.example", Secret: testSecret, SMTP: SMTPConfig{Host: "127.0.0.1", TLS: "none"}},
	}
	for _, c := range ok {
		if err := c.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", c, err)
		}
	}
	for _, c := range []struct {
		cfg  Config
		want []string
	}{
		{Config{}, []string{"driver: must be smtp, log or dir", "from: must be set", "secret: must hold at least 32 characters (got 0)"}},
		{Config{Driver: "sendmail", From: "not an address", Secret: "short", PollInterval: time.Millisecond, MaxAttempts: -1},
			[]string{`driver: must be smtp, log or dir, got "sendmail"`, `from: "not an address" is not an address`,
				"secret: must hold at least 32 characters (got 5)", "poll_interval: must be between 1s and 1h", "max_attempts: must be between 1 and 100"}},
		{Config{Driver: "dir", From: "a@b.example", Secret: testSecret}, []string{"dir: must be set"}},
		{Config{Driver: "smtp", From: "a@b.example", Secret: testSecret, SMTP: SMTPConfig{Port: 70000, TLS: "ssl", Username: "u", Timeout: time.Millisecond}},
			[]string{"smtp.host: must be set", "smtp.port: must be between 1 and 65535", `smtp.tls: must be starttls, tls or none, got "ssl"`,
				"smtp.username, password: give both or neither", "smtp.timeout: must be at least 1s"}},
		{Config{Driver: "smtp", From: "a@b.example", Secret: testSecret, SMTP: SMTPConfig{Host: "smtp.example", TLS: "none", Username: "u", Password: "p"}},
			[]string{"smtp.tls: none only for a server on the loopback interface", "smtp.tls: none sends no credentials"}},
		{Config{Driver: "smtp", From: "a@b.example", Secret: testSecret, SMTP: SMTPConfig{Host: "smtp.example", CAFile: filepath.Join(t.TempDir(), "none.pem")}},
			[]string{"smtp.ca_file:"}},
	} {
		err := c.cfg.Validate()
		if err == nil {
			t.Errorf("Validate(%+v) accepted it", c.cfg)
			continue
		}
		lines := strings.Split(err.Error(), "\n")
		if len(lines) != len(c.want) {
			t.Errorf("Validate(%+v) reported %d problems, want %d:\n%v", c.cfg, len(lines), len(c.want), err)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Validate(%+v) = %v\nwant %q among the problems", c.cfg, err, w)
			}
		}
	}
}

// TestConfigYAML: the keys of the mail section, read over the defaults.
func TestConfigYAML(t *testing.T) {
	cfg := DefaultConfig()
	err := yaml.Unmarshal([]byte(`
driver: smtp
from: "Université de Test <noreply@univ-test.example>"
secret: 0123456789abcdef0123456789abcdef
max_attempts: 3
smtp:
  host: smtp.univ-test.example
  username: canonid
  password: secret
  timeout: 10s
`), &cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	c := cfg.withDefaults()
	if c.SMTP.TLS != TLSStartTLS || c.SMTP.Port != 587 || c.SMTP.Timeout != 10*time.Second || c.MaxAttempts != 3 ||
		c.PollInterval != 5*time.Second || c.SiteName != "canonid" || c.Location == nil {
		t.Fatalf("config = %+v", c)
	}
}
