package ldapwrite

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/canonid/canonid/propagate"
)

// Compile-time proof of the capabilities the target offers.
var (
	_ propagate.AccountTarget = (*Target)(nil)
	_ propagate.Deleter       = (*Target)(nil)
)

// Target writes the canonical accounts to one directory. Its methods may
// be called from several goroutines, but run one at a time: the target
// holds a single connection.
type Target struct {
	cfg Config // defaults applied
	tls *tls.Config
	// managed are the attributes Write owns: managedAttributes and
	// cfg.RDNAttribute.
	managed []string
	// searchBases are where entries are looked for by canonical id.
	searchBases []string

	mu   sync.Mutex
	conn *ldap.Conn // nil until the first call, and after a failure
}

// New returns the target cfg describes. It validates cfg and reads
// cfg.CAFile, but does not contact the server.
func New(cfg Config) (*Target, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("ldap target %q: %w", cfg.Name, err)
	}
	cfg = cfg.withDefaults()
	t := &Target{cfg: cfg, managed: managedAttributes()}
	if !slices.ContainsFunc(t.managed, func(a string) bool { return strings.EqualFold(a, cfg.RDNAttribute) }) {
		t.managed = append(t.managed, cfg.RDNAttribute)
	}

	t.searchBases = []string{cfg.BaseDN}
	if cfg.OnMerge == OnMergeMove {
		base, _ := ldap.ParseDN(cfg.BaseDN) // checked by Validate
		retired, _ := ldap.ParseDN(cfg.RetiredBaseDN)
		if !base.AncestorOfFold(retired) {
			t.searchBases = append(t.searchBases, cfg.RetiredBaseDN)
		}
	}

	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("ldap target %q: url: %w", cfg.Name, err)
	}
	if u.Scheme == "ldaps" || cfg.StartTLS {
		t.tls = &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
		if cfg.CAFile != "" {
			pool, err := x509.SystemCertPool()
			if err != nil {
				pool = x509.NewCertPool()
			}
			pem, err := os.ReadFile(cfg.CAFile)
			if err != nil {
				return nil, fmt.Errorf("ldap target %q: ca_file: %w", cfg.Name, err)
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("ldap target %q: ca_file: no PEM certificate in %s", cfg.Name, cfg.CAFile)
			}
			t.tls.RootCAs = pool
		}
	}
	return t, nil
}

// Name returns the target's configured name.
func (t *Target) Name() string { return t.cfg.Name }

// Close closes the connection to the server, if one is open. The target
// stays usable: the next call opens a new one.
func (t *Target) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conn == nil {
		return nil
	}
	err := t.conn.Close()
	t.conn = nil
	if err != nil {
		return fmt.Errorf("ldap target %q: close: %w", t.cfg.Name, err)
	}
	return nil
}

// Write makes the entry of a match a (see the package documentation) and
// returns its DN as Remote.ID. It is idempotent: an entry that already
// matches is not modified.
//
//   - Active or inactive: the entry is found at prev.ID, or else by its
//     canonical id (supannRefId); renamed (or moved back from
//     RetiredBaseDN) when the login changed; modified where it differs.
//     When prev.ID is empty, or no entry is found, it is added; an entry
//     already at its DN is adopted, unless its supannRefId names another
//     account.
//   - Retired: nothing when nothing was written (prev.ID empty);
//     otherwise the entry is deleted (Remote.ID then empty) or moved
//     below RetiredBaseDN, and Remote.RetiredAt is set (kept from prev
//     when already set).
//
// Write leaves Remote.Hash empty: the dispatcher knows how it hashed a.
func (t *Target) Write(ctx context.Context, a propagate.Account, prev propagate.Remote) (propagate.Remote, error) {
	if a.ID == "" {
		return propagate.Remote{}, fmt.Errorf("ldap target %q: write: account without id", t.cfg.Name)
	}
	switch a.State {
	case propagate.StateActive, propagate.StateInactive:
	case propagate.StateRetired:
		if prev.ID == "" {
			return propagate.Remote{RetiredAt: prev.RetiredAt}, nil
		}
	default:
		return propagate.Remote{}, fmt.Errorf("ldap target %q: write %s: unknown state %q", t.cfg.Name, a.ID, a.State)
	}
	var out propagate.Remote
	err := t.do(ctx, func(conn *ldap.Conn) error {
		var err error
		if a.State == propagate.StateRetired {
			out, err = t.retire(conn, a, prev)
		} else {
			out, err = t.upsert(conn, a, prev)
		}
		return err
	})
	if err != nil {
		return propagate.Remote{}, err
	}
	return out, nil
}

// Delete deletes the entry prev.ID, if any. An entry already gone counts
// as deleted.
func (t *Target) Delete(ctx context.Context, prev propagate.Remote) error {
	if prev.ID == "" {
		return nil
	}
	return t.do(ctx, func(conn *ldap.Conn) error { return del(conn, prev.ID) })
}

// upsert writes the entry of an active or inactive account.
func (t *Target) upsert(conn *ldap.Conn, a propagate.Account, prev propagate.Remote) (propagate.Remote, error) {
	want := t.attributes(a)
	dn := t.dnOf(a, t.cfg.BaseDN)
	var cur *ldap.Entry
	if prev.ID != "" {
		// Not when nothing was written: an unindexed search per created
		// account would make the first propagation crawl.
		var err error
		if cur, err = t.locate(conn, a.ID, prev.ID); err != nil {
			return propagate.Remote{}, err
		}
	}
	if cur == nil {
		err := t.add(conn, dn, want)
		if err == nil {
			return propagate.Remote{ID: dn}, nil
		}
		if !ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) {
			return propagate.Remote{}, err
		}
		// An entry is already there: ours, added by a write whose
		// result was lost, or one to adopt.
		if cur, err = t.read(conn, dn); err != nil {
			return propagate.Remote{}, err
		}
		if cur == nil {
			return propagate.Remote{}, fmt.Errorf("add %s: already exists, then not found", dn)
		}
		if owner := ownerOf(cur); owner != "" && owner != a.ID {
			return propagate.Remote{}, fmt.Errorf("add %s: the entry already there belongs to account %s", dn, owner)
		}
	}
	if err := t.moveTo(conn, cur, dn); err != nil {
		return propagate.Remote{}, err
	}
	if err := t.modify(conn, cur, want); err != nil {
		return propagate.Remote{}, err
	}
	return propagate.Remote{ID: dn}, nil
}

// retire deletes or moves the entry of a retired account.
func (t *Target) retire(conn *ldap.Conn, a propagate.Account, prev propagate.Remote) (propagate.Remote, error) {
	out := propagate.Remote{RetiredAt: prev.RetiredAt}
	if out.RetiredAt.IsZero() {
		out.RetiredAt = time.Now().UTC()
	}
	cur, err := t.locate(conn, a.ID, prev.ID)
	if err != nil {
		return propagate.Remote{}, err
	}
	if cur == nil {
		return out, nil // deleted already
	}
	if t.cfg.OnMerge == OnMergeDelete {
		if err := del(conn, cur.DN); err != nil {
			return propagate.Remote{}, err
		}
		return out, nil
	}
	dn := t.dnOf(a, t.cfg.RetiredBaseDN)
	if err := t.moveTo(conn, cur, dn); err != nil {
		return propagate.Remote{}, err
	}
	if err := t.modify(conn, cur, t.attributes(a)); err != nil {
		return propagate.Remote{}, err
	}
	out.ID = dn
	return out, nil
}

// attributes returns the managed attributes of a's entry: Attributes,
// with the RDN value in the RDN attribute.
func (t *Target) attributes(a propagate.Account) map[string][]string {
	m := Attributes(a)
	v := rdnValue(a)
	for name, values := range m {
		if strings.EqualFold(name, t.cfg.RDNAttribute) {
			if !slices.ContainsFunc(values, func(x string) bool { return strings.EqualFold(x, v) }) {
				m[name] = append(values, v)
			}
			return m
		}
	}
	m[t.cfg.RDNAttribute] = []string{v}
	return m
}

// rdnValue is the value that names a's entry: the login, else the
// canonical id.
func rdnValue(a propagate.Account) string {
	if login := strings.TrimSpace(a.Login); login != "" {
		return login
	}
	return a.ID
}

// dnOf returns the DN of a's entry below base.
func (t *Target) dnOf(a propagate.Account, base string) string {
	return t.cfg.RDNAttribute + "=" + ldap.EscapeDN(rdnValue(a)) + "," + base
}

// locate returns the entry of the account id: the one at dn (what was
// written last) unless it belongs to another account, else the one that
// carries id in supannRefId, else nil.
func (t *Target) locate(conn *ldap.Conn, id, dn string) (*ldap.Entry, error) {
	if dn != "" {
		e, err := t.read(conn, dn)
		if err != nil {
			return nil, err
		}
		if e != nil {
			if owner := ownerOf(e); owner == "" || owner == id {
				return e, nil
			}
		}
	}
	filter := "(" + attrSupannRefID + "=" + ldap.EscapeFilter(RefIDLabel+id) + ")"
	var found []*ldap.Entry
	for _, base := range t.searchBases {
		res, err := conn.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
			0, 0, false, filter, t.readAttributes(), nil))
		if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			return nil, fmt.Errorf("search %s below %s: %w", filter, base, err)
		}
		if res != nil {
			found = append(found, res.Entries...)
		}
	}
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
		return found[0], nil
	}
	return nil, fmt.Errorf("search %s: several entries (%s, %s)", filter, found[0].DN, found[1].DN)
}

// read returns the entry dn with the managed attributes, or nil when
// there is none.
func (t *Target) read(conn *ldap.Conn, dn string) (*ldap.Entry, error) {
	res, err := conn.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		1, 0, false, "(objectClass=*)", t.readAttributes(), nil))
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dn, err)
	}
	if len(res.Entries) == 0 {
		return nil, nil
	}
	return res.Entries[0], nil
}

func (t *Target) readAttributes() []string {
	return append([]string{attrObjectClass}, t.managed...)
}

// ownerOf returns the canonical id the entry's supannRefId names, or "".
func ownerOf(e *ldap.Entry) string {
	for _, v := range e.GetEqualFoldAttributeValues(attrSupannRefID) {
		if id, ok := strings.CutPrefix(v, RefIDLabel); ok {
			return id
		}
	}
	return ""
}

// add adds the entry dn with the configured object classes and the
// attributes of want that have values.
func (t *Target) add(conn *ldap.Conn, dn string, want map[string][]string) error {
	req := ldap.NewAddRequest(dn, nil)
	req.Attribute(attrObjectClass, t.cfg.ObjectClasses)
	for _, name := range t.managed {
		if values := want[name]; len(values) > 0 {
			req.Attribute(name, values)
		}
	}
	if err := conn.Add(req); err != nil {
		return fmt.Errorf("add %s: %w", dn, err)
	}
	return nil
}

// moveTo renames the entry cur to dn, moving it below dn's parent when
// that is another one, and sets cur.DN. The old RDN value is removed.
func (t *Target) moveTo(conn *ldap.Conn, cur *ldap.Entry, dn string) error {
	from, err := ldap.ParseDN(cur.DN)
	if err != nil {
		return fmt.Errorf("rename %s: %w", cur.DN, err)
	}
	to, err := ldap.ParseDN(dn)
	if err != nil {
		return fmt.Errorf("rename %s to %s: %w", cur.DN, dn, err)
	}
	if from.EqualFold(to) {
		return nil
	}
	rdn, superior := splitDN(dn)
	parent := &ldap.DN{RDNs: to.RDNs[1:]}
	if (&ldap.DN{RDNs: from.RDNs[1:]}).EqualFold(parent) {
		superior = ""
	}
	if err := conn.ModifyDN(ldap.NewModifyDNRequest(cur.DN, rdn, true, superior)); err != nil {
		return fmt.Errorf("rename %s to %s: %w", cur.DN, dn, err)
	}
	cur.DN = dn
	return nil
}

// splitDN splits a DN built by dnOf into its RDN and its parent. The RDN
// value is escaped, so the first unescaped comma ends it.
func splitDN(dn string) (rdn, parent string) {
	for i := 0; i < len(dn); i++ {
		switch dn[i] {
		case '\\':
			i++
		case ',':
			return dn[:i], dn[i+1:]
		}
	}
	return dn, ""
}

// modify changes the entry cur where it differs from want: it adds the
// object classes it lacks, replaces the managed attributes whose values
// differ, and deletes those that became empty. The supannRefId values of
// other systems are kept. Nothing is sent when the entry matches.
func (t *Target) modify(conn *ldap.Conn, cur *ldap.Entry, want map[string][]string) error {
	req := ldap.NewModifyRequest(cur.DN, nil)
	have := cur.GetEqualFoldAttributeValues(attrObjectClass)
	var missing []string
	for _, oc := range t.cfg.ObjectClasses {
		if !slices.ContainsFunc(have, func(h string) bool { return strings.EqualFold(h, oc) }) {
			missing = append(missing, oc)
		}
	}
	if len(missing) > 0 {
		req.Add(attrObjectClass, missing)
	}
	for _, name := range t.managed {
		values := want[name]
		current := cur.GetEqualFoldAttributeValues(name)
		if name == attrSupannRefID {
			var others []string
			for _, v := range current {
				if !strings.HasPrefix(v, RefIDLabel) {
					others = append(others, v)
				}
			}
			values = append(others, values...)
		}
		switch {
		case slices.Equal(values, current):
		case len(values) == 0:
			req.Delete(name, nil)
		default:
			req.Replace(name, values)
		}
	}
	if len(req.Changes) == 0 {
		return nil
	}
	if err := conn.Modify(req); err != nil {
		return fmt.Errorf("modify %s: %w", cur.DN, err)
	}
	return nil
}

// del deletes the entry dn; an entry already gone counts as deleted.
func del(conn *ldap.Conn, dn string) error {
	err := conn.Del(ldap.NewDelRequest(dn, nil))
	if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return fmt.Errorf("delete %s: %w", dn, err)
	}
	return nil
}

// do runs fn on the target's connection, opened (and bound) first if
// needed, one call at a time. When the connection kept from a previous
// call turns out broken, it runs fn once more on a new one: fn must be
// idempotent. Errors are classified by fail.
func (t *Target) do(ctx context.Context, fn func(*ldap.Conn) error) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return t.fail(ctx, err)
		}
		conn, reused, err := t.connect(ctx)
		if err != nil {
			return t.fail(ctx, err)
		}
		conn.SetTimeout(t.timeout(ctx))
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		err = fn(conn)
		if !stop() {
			t.drop() // closed by the cancellation
		}
		if err == nil {
			return nil
		}
		if conn.IsClosing() && !connectionLost(err) {
			// go-ldap fails the requests of a connection that broke
			// with a plain error ("unable to read LDAP response
			// packet: EOF").
			err = fmt.Errorf("%w: %w", errConnectionLost, err)
		}
		if connectionLost(err) {
			t.drop()
			if reused && attempt == 1 && ctx.Err() == nil {
				continue
			}
		}
		return t.fail(ctx, err)
	}
}

// connect returns the kept connection, or a new one, bound; reused tells
// which.
func (t *Target) connect(ctx context.Context) (*ldap.Conn, bool, error) {
	if t.conn != nil && !t.conn.IsClosing() {
		return t.conn, true, nil
	}
	t.drop()

	timeout := t.timeout(ctx)
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	if deadline, ok := ctx.Deadline(); ok {
		d.Deadline = deadline
	}
	opts := []ldap.DialOpt{ldap.DialWithDialer(d)}
	if t.tls != nil {
		opts = append(opts, ldap.DialWithTLSConfig(t.tls))
	}
	conn, err := ldap.DialURL(t.cfg.URL, opts...)
	if err != nil {
		return nil, false, fmt.Errorf("connect: %w", err)
	}
	conn.SetTimeout(timeout)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if t.cfg.StartTLS {
		if err := conn.StartTLS(t.tls); err != nil {
			conn.Close()
			return nil, false, fmt.Errorf("StartTLS: %w", err)
		}
	}
	if err := conn.Bind(t.cfg.BindDN, t.cfg.BindPassword); err != nil {
		conn.Close()
		return nil, false, fmt.Errorf("bind as %s: %w", t.cfg.BindDN, err)
	}
	t.conn = conn
	return conn, false, nil
}

// drop closes and forgets the kept connection.
func (t *Target) drop() {
	if t.conn != nil {
		t.conn.Close()
		t.conn = nil
	}
}

// timeout returns the request timeout: the configured one, or less when
// ctx ends sooner.
func (t *Target) timeout(ctx context.Context) time.Duration {
	timeout := t.cfg.Timeout
	if deadline, ok := ctx.Deadline(); ok {
		if left := time.Until(deadline); left < timeout {
			timeout = max(left, time.Millisecond)
		}
	}
	return timeout
}

// fail names the target and its server in err and classifies it: the end
// of ctx, a lost connection or a busy or unavailable server make it a
// propagate.UnavailableError.
func (t *Target) fail(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		err = fmt.Errorf("%w: %w", cerr, err)
	}
	err = fmt.Errorf("ldap target %q (%s): %w", t.cfg.Name, t.cfg.URL, err)
	if ctx.Err() != nil || unavailable(err) {
		return propagate.Unavailable(err, 0)
	}
	return err
}

// errConnectionLost marks the errors of requests whose connection broke.
var errConnectionLost = errors.New("connection lost")

// connectionLost tells whether err means that the connection is broken:
// it could not be opened, was closed, or a request timed out.
func connectionLost(err error) bool {
	var nerr net.Error
	if errors.As(err, &nerr) || errors.Is(err, ldap.ErrNilConnection) || errors.Is(err, errConnectionLost) {
		return true
	}
	return ldap.IsErrorAnyOf(err, ldap.ErrorNetwork, ldap.LDAPResultServerDown,
		ldap.LDAPResultConnectError, ldap.LDAPResultTimeout)
}

// unavailable tells whether err is the server's state rather than the
// request's fault: a lost connection, the results busy (51) and
// unavailable (52), or a bind refused (49: the service password was
// rotated), which refuses every change until an operator acts.
func unavailable(err error) bool {
	return connectionLost(err) || ldap.IsErrorAnyOf(err, ldap.LDAPResultBusy, ldap.LDAPResultUnavailable,
		ldap.LDAPResultInvalidCredentials)
}
