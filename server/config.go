package server

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Config configures the HTTP listener of canonid. Its zero value is not
// usable: the caller starts from DefaultConfig and overlays the YAML file.
type Config struct {
	// Listen is the host:port the server listens on.
	Listen string `yaml:"listen"`
	// PublicURL is the absolute http(s) URL under which users and clients
	// reach canonid (also the OIDC issuer).
	PublicURL string `yaml:"public_url"`
	// ShutdownTimeout bounds the graceful shutdown: requests still running
	// after it are cut.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// TrustedProxies are the addresses (IPs or CIDR ranges) of the
	// reverse proxies in front of canonid. For a request whose peer is one
	// of them, the client's address is the right-most address of
	// X-Forwarded-For that is not itself a trusted proxy; from any other
	// peer the header is ignored. Empty, the default, trusts none. The
	// client's address keys the per-address rate limits and the access log.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// DefaultConfig returns the configuration used when the file says nothing:
// a loopback listener on port 8080 and a 15 s shutdown timeout.
func DefaultConfig() Config {
	return Config{
		Listen:          "127.0.0.1:8080",
		PublicURL:       "http://127.0.0.1:8080",
		ShutdownTimeout: 15 * time.Second,
	}
}

// Validate reports every problem of c at once, each prefixed with its YAML
// key.
func (c Config) Validate() error {
	var errs []error
	if !validListen(c.Listen) {
		errs = append(errs, fmt.Errorf("listen: must be host:port, got %q", c.Listen))
	}
	if !validPublicURL(c.PublicURL) {
		errs = append(errs, fmt.Errorf("public_url: must be an absolute http(s) URL without query or fragment, got %q", c.PublicURL))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("shutdown_timeout: must be positive, got %s", c.ShutdownTimeout))
	}
	for i, p := range c.TrustedProxies {
		if err := checkProxy(p); err != nil {
			errs = append(errs, fmt.Errorf("trusted_proxies[%d]: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

// checkProxy accepts an IP address or a CIDR range, but not one holding
// every address: X-Forwarded-For would then be anybody's to forge, and
// with it the address the rate limits count.
func checkProxy(s string) error {
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return fmt.Errorf("must be an IP address or a CIDR range such as 10.0.0.0/8, got %q", s)
	}
	if p.Bits() == 0 {
		return fmt.Errorf("%q trusts every address, so any client could set its own address in X-Forwarded-For; name the proxies' addresses", s)
	}
	return nil
}

// validListen accepts host:port with a numeric port; the host may be empty
// (all interfaces).
func validListen(s string) bool {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return false
	}
	_, err = strconv.ParseUint(port, 10, 16)
	return err == nil
}

func validPublicURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	return (u.Scheme == "http" || u.Scheme == "https") &&
		u.Opaque == "" && u.User == nil && u.Hostname() != "" &&
		u.RawQuery == "" && !u.ForceQuery && !strings.Contains(s, "#")
}
