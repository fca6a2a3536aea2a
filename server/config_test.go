package server_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/canonid/canonid/server"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*server.Config)
		want   []string // substrings of the error, none for valid
	}{
		{"default", func(*server.Config) {}, nil},
		{"all interfaces", func(c *server.Config) { c.Listen = ":8080" }, nil},
		{"ipv6", func(c *server.Config) { c.Listen = "[::1]:0" }, nil},
		{"https with path", func(c *server.Config) { c.PublicURL = "https://id.example.fr/canonid" }, nil},
		{"listen without port", func(c *server.Config) { c.Listen = "x" }, []string{`listen: must be host:port, got "x"`}},
		{"listen port not a number", func(c *server.Config) { c.Listen = "localhost:http" }, []string{`listen: must be host:port, got "localhost:http"`}},
		{"listen port too big", func(c *server.Config) { c.Listen = "127.0.0.1:65536" }, []string{`listen: must be host:port`}},
		{"listen empty", func(c *server.Config) { c.Listen = "" }, []string{`listen: must be host:port, got ""`}},
		{"public url relative", func(c *server.Config) { c.PublicURL = "/canonid" }, []string{"public_url: must be an absolute http(s) URL without query or fragment"}},
		{"public url ftp", func(c *server.Config) { c.PublicURL = "ftp://id.example.fr" }, []string{"public_url: "}},
		{"public url query", func(c *server.Config) { c.PublicURL = "https://id.example.fr/?a=b" }, []string{"public_url: "}},
		{"public url empty query", func(c *server.Config) { c.PublicURL = "https://id.example.fr/?" }, []string{"public_url: "}},
		{"public url fragment", func(c *server.Config) { c.PublicURL = "https://id.example.fr/#x" }, []string{"public_url: "}},
		{"public url empty fragment", func(c *server.Config) { c.PublicURL = "https://id.example.fr/#" }, []string{"public_url: "}},
		{"public url unparsable", func(c *server.Config) { c.PublicURL = "http://[::1" }, []string{"public_url: "}},
		{"public url no host", func(c *server.Config) { c.PublicURL = "https://" }, []string{"public_url: "}},
		{"public url user info", func(c *server.Config) { c.PublicURL = "https://u:p@id.example.fr" }, []string{"public_url: "}},
		{"zero timeout", func(c *server.Config) { c.ShutdownTimeout = 0 }, []string{"shutdown_timeout: must be positive, got 0s"}},
		{"trusted proxies", func(c *server.Config) { c.TrustedProxies = []string{"10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "::1"} }, nil},
		{"trusted proxy not an address", func(c *server.Config) { c.TrustedProxies = []string{"10.0.0.0/8", "proxy.internal"} },
			[]string{`trusted_proxies[1]: must be an IP address or a CIDR range such as 10.0.0.0/8, got "proxy.internal"`}},
		{"trusted proxy with a zone", func(c *server.Config) { c.TrustedProxies = []string{"fe80::1%eth0"} }, []string{"trusted_proxies[0]: must be an IP address"}},
		{"trusted proxy bad prefix", func(c *server.Config) { c.TrustedProxies = []string{"10.0.0.0/33"} }, []string{"trusted_proxies[0]: must be an IP address"}},
		{"trusting everybody", func(c *server.Config) { c.TrustedProxies = []string{"0.0.0.0/0", "::/0"} },
			[]string{`trusted_proxies[0]: "0.0.0.0/0" trusts every address`, `trusted_proxies[1]: "::/0" trusts every address`}},
		{"everything wrong", func(c *server.Config) { *c = server.Config{ShutdownTimeout: -time.Second} },
			[]string{"listen: ", "public_url: ", "shutdown_timeout: must be positive, got -1s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := server.DefaultConfig()
			tt.modify(&c)
			err := c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate = nil, want %q", tt.want)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Errorf("Validate = %q, want %d problems", err, len(tt.want))
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestDefaultConfig(t *testing.T) {
	want := server.Config{Listen: "127.0.0.1:8080", PublicURL: "http://127.0.0.1:8080", ShutdownTimeout: 15 * time.Second}
	if got := server.DefaultConfig(); !reflect.DeepEqual(got, want) {
		t.Errorf("DefaultConfig = %+v, want %+v", got, want)
	}
}
