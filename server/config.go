package server

import (
	"errors"
	"fmt"
	"net"
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
	return errors.Join(errs...)
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
