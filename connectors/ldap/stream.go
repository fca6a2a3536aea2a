package ldap

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// The listings (List, ListChanged, ScanIDs) read their entries through
// streamConn, a minimal LDAP client that does one thing: run searches one
// after the other and decode their results straight from the wire. go-ldap
// decodes each message into a tree of generic BER packets first, which
// costs about 45 µs per entry of a SupAnn directory: a 100,000-entry
// directory took 5 s to list, against 1 s for ldapsearch. streamConn
// turns each message into one string and slices the DN and the values out
// of it. Requests are still built by go-ldap (filter, controls); binds,
// password changes and syncrepl still go through go-ldap.

// BER tags of the LDAP messages (RFC 4511 §4) streamConn handles.
const (
	tagSequence      = 0x30
	tagSet           = 0x31
	tagInteger       = 0x02
	tagOctetString   = 0x04
	tagBoolean       = 0x01
	tagEnumerated    = 0x0a
	tagBindRequest   = 0x60
	tagBindResponse  = 0x61
	tagUnbindRequest = 0x42
	tagSearchRequest = 0x63
	tagSearchEntry   = 0x64
	tagSearchDone    = 0x65
	tagSearchRef     = 0x73
	tagExtendedReq   = 0x77
	tagExtendedResp  = 0x78
	tagIntermediate  = 0x79
	tagControls      = 0xa0 // [0] constructed, after the protocolOp
	tagSimpleAuth    = 0x80 // [0] primitive, in BindRequest
	tagExtReqName    = 0x80 // [0] primitive, in ExtendedRequest
)

// maxMessage bounds the size of one message from the server: a bigger
// length is taken as a broken stream rather than allocated.
const maxMessage = 64 << 20

// oidStartTLS names the StartTLS extended operation (RFC 4511 §4.14).
const oidStartTLS = "1.3.6.1.4.1.1466.20037"

// streamConn is one connection of a listing. It is used by one goroutine.
type streamConn struct {
	nc      net.Conn // the TCP connection, under TLS if any
	raw     net.Conn // the TCP connection itself
	br      *bufio.Reader
	buf     []byte
	id      int64
	timeout time.Duration
	url     string
	stop    func() bool // detaches the close on ctx's end
}

// openStream connects, upgrades with StartTLS when configured, and binds
// with the service account (anonymous without bind_dn). The connection is
// closed when ctx ends, which interrupts whatever it is doing.
func (c *Connector) openStream(ctx context.Context) (*streamConn, error) {
	u, err := url.Parse(c.cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("ldap %s: %w", c.cfg.URL, err)
	}
	addr := u.Host
	if u.Port() == "" {
		port := ldap.DefaultLdapPort
		if u.Scheme == "ldaps" {
			port = ldap.DefaultLdapsPort
		}
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	d := &net.Dialer{Timeout: c.cfg.Timeout, KeepAlive: 30 * time.Second}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ldap %s: connect: %w", c.cfg.URL, err)
	}
	s := &streamConn{nc: raw, raw: raw, timeout: c.cfg.Timeout, url: c.cfg.URL}
	s.br = bufio.NewReaderSize(raw, 64<<10)
	s.stop = context.AfterFunc(ctx, func() { raw.Close() })
	fail := func(what string, err error) (*streamConn, error) {
		s.close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("ldap %s: %s: %w", c.cfg.URL, what, err)
	}

	if u.Scheme == "ldaps" || c.cfg.StartTLS {
		if c.cfg.StartTLS {
			if err := s.startTLS(ctx); err != nil {
				return fail("StartTLS", err)
			}
		}
		tc := tls.Client(raw, c.tls)
		hctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			what := "TLS handshake"
			if c.cfg.StartTLS {
				what = "StartTLS"
			}
			return fail(what, err)
		}
		s.nc = tc
		s.br = bufio.NewReaderSize(tc, 64<<10)
	}
	if c.cfg.BindDN != "" {
		if err := s.bind(ctx, c.cfg.BindDN, c.cfg.BindPassword); err != nil {
			return fail("bind as "+c.cfg.BindDN, err)
		}
	}
	return s, nil
}

// close sends an unbind, best effort, and closes the connection.
func (s *streamConn) close() {
	s.stop()
	s.nc.SetWriteDeadline(time.Now().Add(time.Second))
	s.id++
	s.nc.Write(appendTLV(nil, tagSequence, appendTLV(appendInt(nil, tagInteger, s.id), tagUnbindRequest, nil)))
	s.nc.Close()
}

// send writes one LDAPMessage with the next message id and the given
// protocolOp (complete element) and encoded controls; it returns the id.
func (s *streamConn) send(ctx context.Context, op []byte, controls ...[]byte) (int64, error) {
	s.id++
	body := appendInt(nil, tagInteger, s.id)
	body = append(body, op...)
	if len(controls) > 0 {
		var cs []byte
		for _, c := range controls {
			cs = append(cs, c...)
		}
		body = appendTLV(body, tagControls, cs)
	}
	s.nc.SetWriteDeadline(time.Now().Add(s.timeout))
	if _, err := s.nc.Write(appendTLV(nil, tagSequence, body)); err != nil {
		return 0, s.ioError(ctx, err)
	}
	return s.id, nil
}

// message is one LDAPMessage from the server, undecoded below its
// protocolOp: op and controls are contents, without tag and length.
type message struct {
	id       int64
	tag      byte
	op       string
	controls string
}

// read reads the next message, waiting at most the timeout for it.
func (s *streamConn) read(ctx context.Context) (message, error) {
	s.nc.SetReadDeadline(time.Now().Add(s.timeout))
	tag, err := s.br.ReadByte()
	if err != nil {
		return message{}, s.ioError(ctx, err)
	}
	if tag != tagSequence {
		return message{}, fmt.Errorf("malformed message: tag %#x", tag)
	}
	n, err := readLength(s.br)
	if err != nil {
		return message{}, s.ioError(ctx, err)
	}
	if cap(s.buf) < n {
		s.buf = make([]byte, n)
	}
	if _, err := io.ReadFull(s.br, s.buf[:n]); err != nil {
		return message{}, s.ioError(ctx, err)
	}
	return parseMessage(string(s.buf[:n]))
}

// ioError turns a failed read or write into the error to report: ctx's
// when it ended (which closed the connection), a timeout, or err.
func (s *streamConn) ioError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("no answer within %s", s.timeout)
	}
	if errors.Is(err, io.EOF) {
		return errors.New("connection closed by the server")
	}
	return err
}

// parseMessage decodes an LDAPMessage's content: messageID, protocolOp,
// controls.
func parseMessage(m string) (message, error) {
	tag, id, rest, err := element(m)
	if err != nil || tag != tagInteger {
		return message{}, fmt.Errorf("malformed message id: %w", orMalformed(err))
	}
	var msg message
	if msg.id, err = parseInt(id); err != nil {
		return message{}, err
	}
	if msg.tag, msg.op, rest, err = element(rest); err != nil {
		return message{}, err
	}
	if rest != "" {
		tag, controls, _, err := element(rest)
		if err != nil {
			return message{}, err
		}
		if tag == tagControls {
			msg.controls = controls
		}
	}
	return msg, nil
}

// startTLS runs the StartTLS extended operation; the caller then runs the
// TLS handshake.
func (s *streamConn) startTLS(ctx context.Context) error {
	id, err := s.send(ctx, appendTLV(nil, tagExtendedReq, appendTLV(nil, tagExtReqName, []byte(oidStartTLS))))
	if err != nil {
		return err
	}
	return s.expectResult(ctx, id, tagExtendedResp)
}

// bind runs a simple bind.
func (s *streamConn) bind(ctx context.Context, dn, password string) error {
	op := appendInt(nil, tagInteger, 3)
	op = appendTLV(op, tagOctetString, []byte(dn))
	op = appendTLV(op, tagSimpleAuth, []byte(password))
	id, err := s.send(ctx, appendTLV(nil, tagBindRequest, op))
	if err != nil {
		return err
	}
	return s.expectResult(ctx, id, tagBindResponse)
}

// expectResult reads the response to request id, of the given tag, and
// returns its result as an error (nil for success).
func (s *streamConn) expectResult(ctx context.Context, id int64, tag byte) error {
	msg, err := s.read(ctx)
	if err != nil {
		return err
	}
	if msg.id != id || msg.tag != tag {
		return unexpected(msg, id)
	}
	return parseResult(msg.op)
}

// unexpected describes a message that is not the answer awaited.
func unexpected(msg message, id int64) error {
	if msg.id == 0 && msg.tag == tagExtendedResp {
		// Notice of Disconnection (RFC 4511 §4.4.1).
		if err := parseResult(msg.op); err != nil {
			return fmt.Errorf("server disconnects: %w", err)
		}
		return errors.New("server disconnects")
	}
	return fmt.Errorf("unexpected message %d (tag %#x) while waiting for %d", msg.id, msg.tag, id)
}

// searchRequest is what streamConn.search sends.
type searchRequest struct {
	base      string
	scope     int
	sizeLimit int
	timeLimit int
	filter    string
	attrs     []string
	controls  []ldap.Control
}

// search runs one search, calling entry for every entry, and returns the
// controls of its SearchResultDone. A result other than success is
// returned as an *ldap.Error. Referrals and intermediate responses are
// ignored.
func (s *streamConn) search(ctx context.Context, req searchRequest, entry func(dn, attrs string) error) (controls string, err error) {
	filter, err := ldap.CompileFilter(req.filter)
	if err != nil {
		return "", fmt.Errorf("filter %s: %w", req.filter, err)
	}
	op := appendTLV(nil, tagOctetString, []byte(req.base))
	op = appendInt(op, tagEnumerated, int64(req.scope))
	op = appendInt(op, tagEnumerated, ldap.NeverDerefAliases)
	op = appendInt(op, tagInteger, int64(req.sizeLimit))
	op = appendInt(op, tagInteger, int64(req.timeLimit))
	op = appendTLV(op, tagBoolean, []byte{0}) // typesOnly
	op = append(op, filter.Bytes()...)
	var attrs []byte
	for _, a := range req.attrs {
		attrs = appendTLV(attrs, tagOctetString, []byte(a))
	}
	op = appendTLV(op, tagSequence, attrs)
	var encoded [][]byte
	for _, c := range req.controls {
		encoded = append(encoded, c.Encode().Bytes())
	}
	id, err := s.send(ctx, appendTLV(nil, tagSearchRequest, op), encoded...)
	if err != nil {
		return "", err
	}
	for {
		msg, err := s.read(ctx)
		if err != nil {
			return "", err
		}
		if msg.id != id {
			return "", unexpected(msg, id)
		}
		switch msg.tag {
		case tagSearchEntry:
			dn, attrs, err := parseEntry(msg.op)
			if err != nil {
				return "", err
			}
			if err := entry(dn, attrs); err != nil {
				return "", err
			}
		case tagSearchRef, tagIntermediate:
		case tagSearchDone:
			return msg.controls, parseResult(msg.op)
		default:
			return "", unexpected(msg, id)
		}
	}
}

// parseEntry splits a SearchResultEntry's content into the DN and the
// content of its attribute list.
func parseEntry(op string) (dn, attrs string, err error) {
	tag, dn, rest, err := element(op)
	if err != nil || tag != tagOctetString {
		return "", "", fmt.Errorf("malformed entry DN: %w", orMalformed(err))
	}
	tag, attrs, _, err = element(rest)
	if err != nil || tag != tagSequence {
		return "", "", fmt.Errorf("malformed attributes of %s: %w", dn, orMalformed(err))
	}
	return dn, attrs, nil
}

// eachAttribute calls fn with each attribute of an entry's attribute
// list; the values are slices of attrs.
func eachAttribute(attrs string, fn func(name string, values []string)) error {
	for attrs != "" {
		tag, attr, rest, err := element(attrs)
		if err != nil || tag != tagSequence {
			return fmt.Errorf("malformed attribute: %w", orMalformed(err))
		}
		attrs = rest
		tag, name, vals, err := element(attr)
		if err != nil || tag != tagOctetString {
			return fmt.Errorf("malformed attribute name: %w", orMalformed(err))
		}
		tag, set, _, err := element(vals)
		if err != nil || tag != tagSet {
			return fmt.Errorf("malformed values of %s: %w", name, orMalformed(err))
		}
		n := 0
		for s := set; s != ""; n++ {
			if _, _, s, err = element(s); err != nil {
				return fmt.Errorf("malformed values of %s: %w", name, err)
			}
		}
		values := make([]string, 0, n)
		for set != "" {
			var v string
			_, v, set, _ = element(set)
			values = append(values, v)
		}
		fn(name, values)
	}
	return nil
}

// parseResult returns the LDAPResult at the start of a response's content
// as an *ldap.Error, or nil for success.
func parseResult(op string) error {
	tag, code, rest, err := element(op)
	if err != nil || tag != tagEnumerated {
		return fmt.Errorf("malformed result code: %w", orMalformed(err))
	}
	rc, err := parseInt(code)
	if err != nil {
		return err
	}
	tag, matched, rest, err := element(rest)
	if err != nil || tag != tagOctetString {
		return fmt.Errorf("malformed matched DN: %w", orMalformed(err))
	}
	tag, diag, _, err := element(rest)
	if err != nil || tag != tagOctetString {
		return fmt.Errorf("malformed diagnostic message: %w", orMalformed(err))
	}
	if rc == ldap.LDAPResultSuccess {
		return nil
	}
	if rc < 0 || rc > 0xffff {
		return fmt.Errorf("malformed result code %d", rc)
	}
	return &ldap.Error{ResultCode: uint16(rc), MatchedDN: matched, Err: errors.New(diag)}
}

// pagingCookie finds the cookie of the paged results control (RFC 2696)
// among a SearchResultDone's controls; "" when absent or empty.
func pagingCookie(controls string) (string, error) {
	for controls != "" {
		tag, ctl, rest, err := element(controls)
		if err != nil || tag != tagSequence {
			return "", fmt.Errorf("malformed control: %w", orMalformed(err))
		}
		controls = rest
		tag, oid, fields, err := element(ctl)
		if err != nil || tag != tagOctetString {
			return "", fmt.Errorf("malformed control type: %w", orMalformed(err))
		}
		if oid != ldap.ControlTypePaging {
			continue
		}
		var value string
		for fields != "" {
			var t byte
			var v string
			if t, v, fields, err = element(fields); err != nil {
				return "", fmt.Errorf("malformed paging control: %w", err)
			}
			if t == tagOctetString {
				value = v
			}
		}
		tag, seq, _, err := element(value)
		if err != nil || tag != tagSequence {
			return "", fmt.Errorf("malformed paging control value: %w", orMalformed(err))
		}
		tag, _, rest, err = element(seq) // size estimate
		if err != nil || tag != tagInteger {
			return "", fmt.Errorf("malformed paging control size: %w", orMalformed(err))
		}
		tag, cookie, _, err := element(rest)
		if err != nil || tag != tagOctetString {
			return "", fmt.Errorf("malformed paging control cookie: %w", orMalformed(err))
		}
		return cookie, nil
	}
	return "", nil
}

var errMalformed = errors.New("malformed BER")

func orMalformed(err error) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: unexpected tag", errMalformed)
}

// element splits the BER element at the start of s (definite length, tag
// number below 31, as LDAP uses) into its tag, content and what follows.
func element(s string) (tag byte, content, rest string, err error) {
	if len(s) < 2 {
		return 0, "", "", fmt.Errorf("%w: truncated element", errMalformed)
	}
	tag = s[0]
	if tag&0x1f == 0x1f {
		return 0, "", "", fmt.Errorf("%w: long-form tag", errMalformed)
	}
	n, i := int(s[1]), 2
	if n&0x80 != 0 {
		k := n & 0x7f
		if k == 0 || k > 4 || len(s) < 2+k {
			return 0, "", "", fmt.Errorf("%w: bad length", errMalformed)
		}
		var u uint64
		for _, b := range []byte(s[2 : 2+k]) {
			u = u<<8 | uint64(b)
		}
		if u > uint64(len(s)) {
			return 0, "", "", fmt.Errorf("%w: element of %d bytes in %d", errMalformed, u, len(s))
		}
		n = int(u)
		i += k
	}
	if n > len(s)-i {
		return 0, "", "", fmt.Errorf("%w: element of %d bytes in %d", errMalformed, n, len(s)-i)
	}
	return tag, s[i : i+n], s[i+n:], nil
}

// readLength reads a BER definite length.
func readLength(r io.ByteReader) (int, error) {
	b, err := r.ReadByte()
	if err != nil {
		return 0, err
	}
	if b&0x80 == 0 {
		return int(b), nil
	}
	k := int(b & 0x7f)
	if k == 0 || k > 4 {
		return 0, fmt.Errorf("%w: bad length", errMalformed)
	}
	var n uint64
	for range k {
		if b, err = r.ReadByte(); err != nil {
			return 0, err
		}
		n = n<<8 | uint64(b)
	}
	if n > maxMessage {
		return 0, fmt.Errorf("%w: message of %d bytes", errMalformed, n)
	}
	return int(n), nil
}

// parseInt decodes the content of a BER INTEGER or ENUMERATED.
func parseInt(s string) (int64, error) {
	if s == "" || len(s) > 8 {
		return 0, fmt.Errorf("%w: integer of %d bytes", errMalformed, len(s))
	}
	v := int64(int8(s[0])) // sign
	for _, b := range []byte(s[1:]) {
		v = v<<8 | int64(b)
	}
	return v, nil
}

// appendTLV appends a BER element with a definite length.
func appendTLV(b []byte, tag byte, content []byte) []byte {
	b = append(b, tag)
	switch n := len(content); {
	case n < 0x80:
		b = append(b, byte(n))
	case n <= 0xff:
		b = append(b, 0x81, byte(n))
	case n <= 0xffff:
		b = append(b, 0x82, byte(n>>8), byte(n))
	case n <= 0xffffff:
		b = append(b, 0x83, byte(n>>16), byte(n>>8), byte(n))
	default:
		b = append(b, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, content...)
}

// appendInt appends a BER INTEGER or ENUMERATED in the fewest bytes.
func appendInt(b []byte, tag byte, v int64) []byte {
	n := 1
	for n < 8 && (v>>(8*n-1) != 0 && v>>(8*n-1) != -1) {
		n++
	}
	content := make([]byte, n)
	for i := range n {
		content[n-1-i] = byte(v >> (8 * i))
	}
	return appendTLV(b, tag, content)
}
