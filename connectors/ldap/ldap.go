// Package ldap is the campus directory connector: it reads people from an
// LDAPv3 directory (OpenLDAP with the SupAnn / eduPerson schemas in
// mind), checks their passwords with a bind, and changes them with the
// Password Modify extended operation.
//
// Identities are keyed by entryUUID (RFC 4530), so a renamed entry keeps
// its account. Listings stream: they run paged searches (RFC 2696), one
// page at a time, by default two in parallel over disjoint ranges of
// entryUUIDs, and never hold the directory in memory. They read the wire
// with a small decoder of their own (stream.go), five times faster than
// go-ldap's; binds, password changes and syncrepl use go-ldap. Entries
// without an entryUUID cannot be linked: listings skip them and log a
// warning with their number.
//
// With the syncprov overlay on the server, the connector also offers a
// change feed (Content Synchronization, RFC 4533, refreshOnly mode).
package ldap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/canonid/canonid/connectors"
)

// Compile-time proof of the capabilities the connector offers.
var (
	_ connectors.Connector             = (*Connector)(nil)
	_ connectors.Lister                = (*Connector)(nil)
	_ connectors.IncrementalLister     = (*Connector)(nil)
	_ connectors.PresenceScanner       = (*Connector)(nil)
	_ connectors.PasswordAuthenticator = (*Connector)(nil)
	_ connectors.PasswordChanger       = (*Connector)(nil)
	_ connectors.ChangeFeed            = (*Connector)(nil)
)

// Operational attributes every listing reads.
const (
	attrEntryUUID       = "entryUUID"
	attrModifyTimestamp = "modifyTimestamp"
	attrEntryCSN        = "entryCSN"
)

// Answers of the entryUUID ordering probe, cached per connector.
const (
	orderingUnknown int32 = iota
	orderingYes
	orderingNo
)

// Connector reads people from one directory. It is safe for concurrent
// use; every operation opens its own connections and closes them before
// it returns.
type Connector struct {
	name  string
	cfg   Config // defaults applied
	log   *slog.Logger
	tls   *tls.Config // nil without TLS
	scope int
	// attrs are the attributes entries are read with: the mapping's, the
	// configured extra ones and the operational ones.
	attrs []string
	// keep tells which operational attributes were asked for by the
	// mapping or the configuration, and so stay in Entry.Attributes.
	keepUUID, keepTimestamp, keepCSN bool
	// ordering caches whether the server orders entryUUIDs (see
	// partitionCount).
	ordering atomic.Int32
}

// New returns a connector named name (links from it have the source
// "ldap:<name>") reading the attributes attrs that the mapping needs, plus
// cfg.Attributes. It validates cfg and reads cfg.CAFile, but does not
// contact the server.
func New(name string, cfg Config, attrs []string, log *slog.Logger) (*Connector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("ldap connector %q: %w", name, err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	c := &Connector{
		name: name,
		cfg:  cfg,
		log:  log,
	}
	c.scope = ldap.ScopeWholeSubtree
	if cfg.Scope == ScopeOne {
		c.scope = ldap.ScopeSingleLevel
	}

	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("ldap connector %q: url: %w", name, err)
	}
	if u.Scheme == "ldaps" || cfg.StartTLS {
		c.tls = &tls.Config{
			ServerName:         u.Hostname(),
			MinVersion:         tls.VersionTLS12,
			InsecureSkipVerify: cfg.InsecureSkipVerify, //nolint:gosec // opted into by configuration, for tests
		}
		if cfg.InsecureSkipVerify {
			c.log.Warn("TLS certificate verification disabled (insecure_skip_verify)", "url", cfg.URL)
		}
		if cfg.CAFile != "" {
			pool, err := x509.SystemCertPool()
			if err != nil {
				pool = x509.NewCertPool()
			}
			pem, err := os.ReadFile(cfg.CAFile)
			if err != nil {
				return nil, fmt.Errorf("ldap connector %q: ca_file: %w", name, err)
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("ldap connector %q: ca_file: no PEM certificate in %s", name, cfg.CAFile)
			}
			c.tls.RootCAs = pool
		}
	}

	seen := map[string]bool{}
	for _, a := range append(append([]string(nil), attrs...), cfg.Attributes...) {
		key := strings.ToLower(a)
		if a == "" || seen[key] {
			continue
		}
		seen[key] = true
		c.attrs = append(c.attrs, a)
	}
	c.keepUUID = seen[strings.ToLower(attrEntryUUID)]
	c.keepTimestamp = seen[strings.ToLower(attrModifyTimestamp)]
	c.keepCSN = seen[strings.ToLower(attrEntryCSN)]
	if len(c.attrs) == 0 {
		c.attrs = []string{"*"} // every user attribute
	}
	for _, a := range []string{attrEntryUUID, attrModifyTimestamp, attrEntryCSN} {
		if !seen[strings.ToLower(a)] {
			c.attrs = append(c.attrs, a)
		}
	}
	return c, nil
}

// Name returns the connector's configured name.
func (c *Connector) Name() string { return c.name }

// dial opens a connection, upgraded with StartTLS when configured, not yet
// bound. Requests on it time out after cfg.Timeout.
func (c *Connector) dial(ctx context.Context) (*ldap.Conn, error) {
	d := &net.Dialer{Timeout: c.cfg.Timeout, KeepAlive: 30 * time.Second}
	if deadline, ok := ctx.Deadline(); ok {
		d.Deadline = deadline
	}
	opts := []ldap.DialOpt{ldap.DialWithDialer(d)}
	if c.tls != nil {
		opts = append(opts, ldap.DialWithTLSConfig(c.tls))
	}
	conn, err := ldap.DialURL(c.cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("ldap %s: connect: %w", c.cfg.URL, err)
	}
	conn.SetTimeout(c.cfg.Timeout)
	if c.cfg.StartTLS {
		if err := conn.StartTLS(c.tls); err != nil {
			conn.Close()
			return nil, fmt.Errorf("ldap %s: StartTLS: %w", c.cfg.URL, err)
		}
	}
	return conn, nil
}

// connect opens a connection bound with the service account (or
// anonymous without bind_dn).
func (c *Connector) connect(ctx context.Context) (*ldap.Conn, error) {
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	if c.cfg.BindDN != "" {
		if err := c.bind(ctx, conn, c.cfg.BindDN, c.cfg.BindPassword); err != nil {
			conn.Close()
			return nil, fmt.Errorf("ldap %s: bind as %s: %w", c.cfg.URL, c.cfg.BindDN, err)
		}
	}
	return conn, nil
}

// bind binds conn, giving up when ctx ends.
func (c *Connector) bind(ctx context.Context, conn *ldap.Conn, dn, password string) error {
	return c.call(ctx, conn, func() error { return conn.Bind(dn, password) })
}

// call runs a synchronous request on conn, closing conn when ctx ends
// first (the go-ldap client takes no context), and then returns ctx's
// error.
func (c *Connector) call(ctx context.Context, conn *ldap.Conn, request func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	err := request()
	if !stop() {
		return ctx.Err()
	}
	return err
}

// search runs a small, unpaged search with the request timeout, giving up
// when ctx ends.
func (c *Connector) search(ctx context.Context, conn *ldap.Conn, req *ldap.SearchRequest) (*ldap.SearchResult, error) {
	var res *ldap.SearchResult
	err := c.call(ctx, conn, func() error {
		var err error
		res, err = conn.Search(req)
		return err
	})
	return res, err
}

// timeLimit is the server-side time limit of small searches, in seconds.
func (c *Connector) timeLimit() int {
	return int(math.Ceil(c.cfg.Timeout.Seconds()))
}

// entry converts an entry read by go-ldap; ok is false when it has no
// entryUUID.
func (c *Connector) entry(e *ldap.Entry) (entry connectors.Entry, ok bool) {
	entry = connectors.Entry{Name: e.DN, Attributes: make(map[string][]string, len(e.Attributes))}
	for _, a := range e.Attributes {
		c.addAttribute(&entry, a.Name, a.Values)
	}
	return entry, entry.ExternalID != ""
}

// rawEntry converts an entry read by a streamConn; ok is false when it
// has no entryUUID.
func (c *Connector) rawEntry(dn, attrs string) (entry connectors.Entry, ok bool, err error) {
	entry = connectors.Entry{Name: dn, Attributes: make(map[string][]string, len(c.attrs))}
	err = eachAttribute(attrs, func(name string, values []string) {
		c.addAttribute(&entry, name, values)
	})
	if err != nil {
		return entry, false, fmt.Errorf("entry %s: %w", dn, err)
	}
	return entry, entry.ExternalID != "", nil
}

// addAttribute files one attribute of an entry: entryUUID,
// modifyTimestamp and entryCSN set ExternalID, ModifiedAt and CSN, and
// stay out of Attributes unless the mapping or the configuration asked
// for them.
func (c *Connector) addAttribute(entry *connectors.Entry, name string, values []string) {
	switch {
	case strings.EqualFold(name, attrEntryUUID):
		if len(values) > 0 {
			entry.ExternalID = strings.ToLower(values[0])
		}
		if !c.keepUUID {
			return
		}
	case strings.EqualFold(name, attrModifyTimestamp):
		if len(values) > 0 {
			if t, err := parseGeneralizedTime(values[0]); err == nil {
				entry.ModifiedAt = t
			} else {
				c.log.Warn("unreadable modifyTimestamp", "dn", entry.Name, "value", values[0], "err", err)
			}
		}
		if !c.keepTimestamp {
			return
		}
	case strings.EqualFold(name, attrEntryCSN):
		if len(values) > 0 {
			entry.CSN = values[0]
		}
		if !c.keepCSN {
			return
		}
	}
	entry.Attributes[name] = values
}

// parseGeneralizedTime parses an LDAP GeneralizedTime with seconds, such
// as modifyTimestamp's "20240131235959Z", with or without fraction, in
// UTC or with an offset.
func parseGeneralizedTime(s string) (time.Time, error) {
	t, err := time.Parse("20060102150405Z0700", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("not a generalized time: %q", s)
	}
	return t.UTC(), nil
}

// generalizedTime formats t for a filter on modifyTimestamp.
func generalizedTime(t time.Time) string {
	return t.UTC().Format("20060102150405Z")
}

// noAttributes asks a search for no attribute at all (RFC 4511 §4.5.1.8).
const noAttributes = "1.1"
