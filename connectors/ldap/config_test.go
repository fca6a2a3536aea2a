package ldap_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/canonid/canonid/connectors/ldap"
)

func validConfig() ldap.Config {
	return ldap.Config{
		URL:          "ldap://127.0.0.1:10389",
		BindDN:       "cn=admin,dc=univ-test,dc=fr",
		BindPassword: "s3cret",
		BaseDN:       "ou=people,dc=univ-test,dc=fr",
		Filter:       "(objectClass=supannPerson)",
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*ldap.Config)
		want   []string // substrings of the error, one per problem; none: valid
	}{
		{name: "minimal", modify: func(*ldap.Config) {}},
		{name: "anonymous ldaps with everything", modify: func(c *ldap.Config) {
			c.URL = "ldaps://ldap.univ-test.fr"
			c.BindDN, c.BindPassword = "", ""
			c.Scope = "one"
			c.Attributes = []string{"supannEtuId", "jpegPhoto;binary", "1.3.6.1.4.1.7135.1.2.1.10"}
			c.PageSize, c.Partitions = 500, 4
			c.Overlap, c.Timeout = 5*time.Minute, 10*time.Second
			c.LoginAttributes = []string{"uid", "supannAliasLogin"}
			c.UserFilter = "(eduPersonAffiliation=member)"
			c.Presence = "syncrepl"
		}},
		{name: "missing url and base", modify: func(c *ldap.Config) { c.URL, c.BaseDN = "", "" },
			want: []string{"url: required", "base_dn: required"}},
		{name: "bad scheme", modify: func(c *ldap.Config) { c.URL = "http://example.org" },
			want: []string{"url: scheme must be ldap or ldaps"}},
		{name: "credentials in url", modify: func(c *ldap.Config) { c.URL = "ldap://admin:pw@example.org" },
			want: []string{"url: must not carry credentials"}},
		{name: "dn in url", modify: func(c *ldap.Config) { c.URL = "ldap://example.org/dc=fr" },
			want: []string{"url: must not carry a DN"}},
		{name: "start_tls over ldaps", modify: func(c *ldap.Config) { c.URL = "ldaps://example.org"; c.StartTLS = true },
			want: []string{"start_tls: cannot be used with an ldaps:// url"}},
		{name: "insecure with ca", modify: func(c *ldap.Config) { c.InsecureSkipVerify = true; c.CAFile = "/etc/ca.pem" },
			want: []string{"insecure_skip_verify:"}},
		{name: "password without dn", modify: func(c *ldap.Config) { c.BindDN = "" },
			want: []string{"bind_dn: required with bind_password"}},
		{name: "dn without password", modify: func(c *ldap.Config) { c.BindPassword = "" },
			want: []string{"bind_password: required with bind_dn"}},
		{name: "bad DNs", modify: func(c *ldap.Config) { c.BindDN = "admin"; c.BaseDN = "people" },
			want: []string{"bind_dn:", "base_dn:"}},
		{name: "bad filters", modify: func(c *ldap.Config) { c.Filter = "(objectClass=person"; c.UserFilter = "uid" },
			want: []string{"filter:", "user_filter:"}},
		{name: "everything else wrong at once", modify: func(c *ldap.Config) {
			c.Scope = "base"
			c.Attributes = []string{"mail", "bad attr"}
			c.LoginAttributes = []string{"(uid)"}
			c.PageSize, c.Partitions = -1, 1000
			c.Overlap, c.Timeout = -time.Second, -time.Second
			c.Presence = "psearch"
		}, want: []string{
			`scope: must be "sub" or "one"`,
			`attributes[1]: not an attribute name: "bad attr"`,
			`login_attributes[0]: not an attribute name`,
			"page_size:", "partitions:", "overlap:", "timeout:",
			`presence: must be "scan" or "syncrepl"`,
		}},
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
			if got := len(strings.Split(err.Error(), "\n")); got != len(tt.want) {
				t.Errorf("Validate() reported %d problems, want %d:\n%v", got, len(tt.want), err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), cfg.BindPassword) && cfg.BindPassword != "" {
				t.Errorf("Validate() = %q leaks the bind password", err)
			}
		})
	}
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	cfg := validConfig()
	cfg.URL = ""
	if _, err := ldap.New("campus", cfg, nil, nil); err == nil || !strings.Contains(err.Error(), `"campus"`) {
		t.Fatalf("New() error = %v, want one naming the connector", err)
	}
	cfg = validConfig()
	cfg.CAFile = "/nonexistent/ca.pem"
	cfg.URL = "ldaps://127.0.0.1"
	if _, err := ldap.New("campus", cfg, nil, nil); err == nil || !strings.Contains(err.Error(), "ca_file") {
		t.Fatalf("New() error = %v, want a ca_file error", err)
	}
}

func TestConfigYAML(t *testing.T) {
	const doc = `
url: ldaps://ldap.univ-test.fr
start_tls: false
insecure_skip_verify: false
ca_file: /etc/ssl/campus-ca.pem
bind_dn: cn=canonid,ou=services,dc=univ-test,dc=fr
bind_password: s3cret
base_dn: ou=people,dc=univ-test,dc=fr
filter: (objectClass=supannPerson)
scope: one
attributes: [supannAliasLogin]
page_size: 500
partitions: 4
overlap: 5m
login_attributes: [uid, supannAliasLogin]
user_filter: (eduPersonAffiliation=member)
timeout: 10s
presence: syncrepl
`
	var got ldap.Config
	if err := yaml.Unmarshal([]byte(doc), &got); err != nil {
		t.Fatalf("yaml.Unmarshal() = %v", err)
	}
	want := ldap.Config{
		URL: "ldaps://ldap.univ-test.fr", CAFile: "/etc/ssl/campus-ca.pem",
		BindDN: "cn=canonid,ou=services,dc=univ-test,dc=fr", BindPassword: "s3cret",
		BaseDN: "ou=people,dc=univ-test,dc=fr", Filter: "(objectClass=supannPerson)", Scope: "one",
		Attributes: []string{"supannAliasLogin"}, PageSize: 500, Partitions: 4, Overlap: 5 * time.Minute,
		LoginAttributes: []string{"uid", "supannAliasLogin"}, UserFilter: "(eduPersonAffiliation=member)",
		Timeout: 10 * time.Second, Presence: "syncrepl",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("yaml.Unmarshal() = %+v\nwant %+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("Validate() = %v", err)
	}
}
