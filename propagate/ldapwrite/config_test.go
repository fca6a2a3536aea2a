package ldapwrite_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/canonid/canonid/propagate/ldapwrite"
)

const secret = "Wr0ng-S3cret"

func validConfig() ldapwrite.Config {
	return ldapwrite.Config{
		Name:         "directory",
		URL:          "ldap://127.0.0.1:10389",
		BindDN:       "cn=canonid,ou=services,dc=univ-test,dc=fr",
		BindPassword: secret,
		BaseDN:       "ou=canonid,dc=univ-test,dc=fr",
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*ldapwrite.Config)
		want   []string // substrings of the error, one per problem; none: valid
	}{
		{name: "minimal", modify: func(*ldapwrite.Config) {}},
		{name: "everything", modify: func(c *ldapwrite.Config) {
			c.URL = "ldap://ldap.univ-test.fr:389"
			c.StartTLS, c.CAFile = true, "/etc/ssl/univ-ca.pem"
			c.RDNAttribute = "cn"
			c.ObjectClasses = []string{"inetOrgPerson", "supannPerson", "eduPerson", "supannRessource"}
			c.OnMerge, c.RetiredBaseDN = "move", "ou=merged,dc=univ-test,dc=fr"
			c.Timeout = 10 * time.Second
		}},
		{name: "explicit delete", modify: func(c *ldapwrite.Config) { c.URL = "ldaps://ldap.univ-test.fr"; c.OnMerge = "delete" }},
		{name: "empty", modify: func(c *ldapwrite.Config) { *c = ldapwrite.Config{} },
			want: []string{"name: required", "url: required", "bind_dn: required", "bind_password: required", "base_dn: required"}},
		{name: "bad scheme", modify: func(c *ldapwrite.Config) { c.URL = "http://example.org" },
			want: []string{"url: scheme must be ldap or ldaps"}},
		{name: "no host", modify: func(c *ldapwrite.Config) { c.URL = "ldap://" },
			want: []string{"url: host required"}},
		{name: "credentials in url", modify: func(c *ldapwrite.Config) { c.URL = "ldap://admin:pw@example.org" },
			want: []string{"url: must not carry credentials"}},
		{name: "dn in url", modify: func(c *ldapwrite.Config) { c.URL = "ldap://example.org/dc=fr" },
			want: []string{"url: must not carry a DN"}},
		{name: "start_tls over ldaps", modify: func(c *ldapwrite.Config) { c.URL = "ldaps://example.org"; c.StartTLS = true },
			want: []string{"start_tls: cannot be used with an ldaps:// url"}},
		{name: "bad DNs", modify: func(c *ldapwrite.Config) { c.BindDN = "admin"; c.BaseDN = "people" },
			want: []string{"bind_dn:", "base_dn:"}},
		{name: "bad names", modify: func(c *ldapwrite.Config) {
			c.RDNAttribute = "uid;lang-fr"
			c.ObjectClasses = []string{"inetOrgPerson", "supann Person"}
		}, want: []string{"rdn_attribute: not an attribute name", "object_classes[1]: not an object class name"}},
		{name: "unknown on_merge", modify: func(c *ldapwrite.Config) { c.OnMerge = "deactivate" },
			want: []string{`on_merge: must be "delete" or "move", got "deactivate"`}},
		{name: "move without retired_base_dn", modify: func(c *ldapwrite.Config) { c.OnMerge = "move" },
			want: []string{"retired_base_dn: required with on_merge: move"}},
		{name: "move to base_dn", modify: func(c *ldapwrite.Config) { c.OnMerge, c.RetiredBaseDN = "move", "OU=canonid,dc=univ-test,dc=fr" },
			want: []string{"retired_base_dn: must differ from base_dn"}},
		{name: "move to a bad DN", modify: func(c *ldapwrite.Config) { c.OnMerge, c.RetiredBaseDN = "move", "merged" },
			want: []string{"retired_base_dn:"}},
		{name: "retired_base_dn with delete", modify: func(c *ldapwrite.Config) { c.RetiredBaseDN = "ou=merged,dc=univ-test,dc=fr" },
			want: []string{"retired_base_dn: only used with on_merge: move"}},
		{name: "negative timeout", modify: func(c *ldapwrite.Config) { c.Timeout = -time.Second },
			want: []string{"timeout: must not be negative"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validConfig()
			tt.modify(&cfg)
			err := cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tt.want)
			}
			msg := err.Error()
			if lines := strings.Count(msg, "\n") + 1; lines != len(tt.want) {
				t.Errorf("Validate() reported %d problems, want %d:\n%s", lines, len(tt.want), msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("Validate() = %q, want it to contain %q", msg, w)
				}
			}
			if strings.Contains(msg, secret) {
				t.Errorf("Validate() = %q leaks the password", msg)
			}
		})
	}
}

func TestNew(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		modify func(*ldapwrite.Config)
		want   string
	}{
		{"valid", func(*ldapwrite.Config) {}, ""},
		{"invalid", func(c *ldapwrite.Config) { c.BaseDN = "" }, `ldap target "directory": base_dn: required`},
		{"missing ca_file", func(c *ldapwrite.Config) { c.StartTLS, c.CAFile = true, filepath.Join(dir, "none.pem") }, "ca_file:"},
		{"ca_file without certificate", func(c *ldapwrite.Config) { c.URL, c.CAFile = "ldaps://127.0.0.1", notPEM }, "no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validConfig()
			tt.modify(&cfg)
			tg, err := ldapwrite.New(cfg)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("New() = %v", err)
				}
				if tg.Name() != "directory" {
					t.Errorf("Name() = %q", tg.Name())
				}
				if err := tg.Close(); err != nil {
					t.Errorf("Close() before any call = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestConfigYAML(t *testing.T) {
	const doc = `
name: directory
url: ldaps://ldap.univ-test.fr
bind_dn: cn=canonid,ou=services,dc=univ-test,dc=fr
bind_password: s3cret
base_dn: ou=canonid,dc=univ-test,dc=fr
start_tls: false
ca_file: /etc/ssl/univ-ca.pem
rdn_attribute: uid
object_classes: [inetOrgPerson, supannPerson]
on_merge: move
retired_base_dn: ou=merged,dc=univ-test,dc=fr
timeout: 15s
`
	var cfg ldapwrite.Config
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatalf("Decode() = %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	if cfg.Timeout != 15*time.Second || cfg.OnMerge != "move" || cfg.RetiredBaseDN != "ou=merged,dc=univ-test,dc=fr" ||
		len(cfg.ObjectClasses) != 2 || cfg.CAFile != "/etc/ssl/univ-ca.pem" || cfg.BindPassword != "s3cret" {
		t.Errorf("decoded %+v", cfg)
	}
}
