package web

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestConfigValidate(t *testing.T) {
	ok := Config{PublicURL: "https://login.univ-test.fr", Secret: testSecret}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	if d := ok.withDefaults(); d.SessionLifetime != 12*time.Hour || d.SessionIdle != 2*time.Hour ||
		d.CookieName != "canonid_session" || d.LoginRate != (Rate{10, time.Minute}) || d.LoginBurst != 10 ||
		d.IdentifierRate != (Rate{5, 15 * time.Minute}) || d.IdentifierBurst != 5 {
		t.Errorf("defaults %+v", d)
	}
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want []string
	}{
		{"everything wrong", func(c *Config) {
			c.PublicURL = "login.univ-test.fr"
			c.Secret = []byte("short")
			c.SessionLifetime = -time.Hour
			c.SessionIdle = -time.Hour
			c.CookieName = "bad name"
			c.LoginRate = Rate{Events: -1}
			c.LoginBurst = -1
			c.IdentifierRate = Rate{Events: 1, Per: -time.Second}
			c.IdentifierBurst = -2
		}, []string{"public_url:", "secret: must be at least 32 bytes, got 5", "session_lifetime:", "session_idle:",
			"cookie_name:", "login_rate.events:", "login_rate.per:", "login_burst:", "identifier_rate.per:", "identifier_burst:"}},
		{"idle longer than lifetime", func(c *Config) { c.SessionLifetime = time.Hour; c.SessionIdle = 2 * time.Hour },
			[]string{"session_idle: must not exceed session_lifetime"}},
		{"cookie name taken", func(c *Config) { c.CookieName = csrfCookie }, []string{"cookie_name:"}},
		{"no secret", func(c *Config) { c.Secret = nil }, []string{"secret:"}},
		{"public url with user", func(c *Config) { c.PublicURL = "https://u:p@login.univ-test.fr" }, []string{"public_url:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.mod(&c)
			err := c.Validate()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestConfigYAML(t *testing.T) {
	var c Config
	src := "secret: abcdefghijabcdefghijabcdefghij12\nsession_idle: 30m\nlogin_rate: {events: 20, per: 1m}\n"
	if err := yaml.Unmarshal([]byte(src), &c); err != nil {
		t.Fatal(err)
	}
	if string(c.Secret) != "abcdefghijabcdefghijabcdefghij12" || c.SessionIdle != 30*time.Minute || c.LoginRate != (Rate{20, time.Minute}) {
		t.Errorf("decoded %+v", c)
	}
	if s := fmt.Sprintf("%v %+v", c, c); strings.Contains(s, "abcdefghij") {
		t.Errorf("the secret prints: %s", s)
	}
}

func TestPublicOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://login.univ-test.fr":         "https://login.univ-test.fr",
		"https://Login.Univ-Test.fr:443/sso": "https://login.univ-test.fr",
		"http://127.0.0.1:8080":              "http://127.0.0.1:8080",
		"http://localhost:80/":               "http://localhost",
	} {
		if got, err := publicOrigin(in); err != nil || got != want {
			t.Errorf("publicOrigin(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestNewRequiresDeps(t *testing.T) {
	_, err := New(Config{}, Deps{Upstreams: []Upstream{{Name: "campus"}}})
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{"public_url:", "secret:", "Deps.Store", "Deps.Auth", "Deps.Requests", "Upstreams[0] (campus): no label", "bad start URL"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
}
