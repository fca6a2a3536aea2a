package slapdtest

import (
	"encoding/base64"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Conn returns a new connection bound as AdminDN, closed when the test
// ends.
func (s *Server) Conn(t testing.TB) *ldap.Conn {
	t.Helper()
	conn, err := ldap.DialURL(s.URL, ldap.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}))
	if err != nil {
		t.Fatalf("slapdtest: dial %s: %v", s.URL, err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetTimeout(30 * time.Second)
	if err := conn.Bind(s.AdminDN, s.AdminPassword); err != nil {
		t.Fatalf("slapdtest: bind %s: %v", s.AdminDN, err)
	}
	return conn
}

// Add adds the entries of an LDIF text (content records, no changetype).
func (s *Server) Add(t testing.TB, ldif string) {
	t.Helper()
	reqs, err := ParseLDIF(ldif)
	if err != nil {
		t.Fatalf("slapdtest: %v", err)
	}
	conn := s.Conn(t)
	for _, req := range reqs {
		if err := conn.Add(req); err != nil {
			t.Fatalf("slapdtest: add %s: %v", req.DN, err)
		}
	}
}

// Modify applies a modify request.
func (s *Server) Modify(t testing.TB, req *ldap.ModifyRequest) {
	t.Helper()
	if err := s.Conn(t).Modify(req); err != nil {
		t.Fatalf("slapdtest: modify %s: %v", req.DN, err)
	}
}

// Replace replaces the values of one attribute of dn (no values: deletes
// the attribute).
func (s *Server) Replace(t testing.TB, dn, attr string, values ...string) {
	t.Helper()
	req := ldap.NewModifyRequest(dn, nil)
	req.Replace(attr, values)
	s.Modify(t, req)
}

// Delete deletes the entry dn.
func (s *Server) Delete(t testing.TB, dn string) {
	t.Helper()
	if err := s.Conn(t).Del(ldap.NewDelRequest(dn, nil)); err != nil {
		t.Fatalf("slapdtest: delete %s: %v", dn, err)
	}
}

// Rename gives the entry dn the relative name newRDN (e.g. "uid=new"),
// under the same parent, deleting the old RDN value.
func (s *Server) Rename(t testing.TB, dn, newRDN string) {
	t.Helper()
	if err := s.Conn(t).ModifyDN(ldap.NewModifyDNRequest(dn, newRDN, true, "")); err != nil {
		t.Fatalf("slapdtest: rename %s to %s: %v", dn, newRDN, err)
	}
}

// EntryUUID returns the entryUUID of dn.
func (s *Server) EntryUUID(t testing.TB, dn string) string {
	t.Helper()
	res, err := s.Conn(t).Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		0, 0, false, "(objectClass=*)", []string{"entryUUID"}, nil))
	if err != nil {
		t.Fatalf("slapdtest: read %s: %v", dn, err)
	}
	if len(res.Entries) != 1 {
		t.Fatalf("slapdtest: read %s: %d entries", dn, len(res.Entries))
	}
	id := res.Entries[0].GetAttributeValue("entryUUID")
	if id == "" {
		t.Fatalf("slapdtest: %s has no entryUUID", dn)
	}
	return id
}

// ParseLDIF parses LDIF content records (RFC 2849) into add requests:
// comments, folded lines and base64 ("attr:: ...") values are understood;
// change records and URL values ("attr:< ...") are not.
func ParseLDIF(text string) ([]*ldap.AddRequest, error) {
	var (
		reqs  []*ldap.AddRequest
		cur   *ldap.AddRequest
		attrs map[string]int // attribute name -> index in cur.Attributes
		lines []string       // logical (unfolded) lines of the record
	)
	flush := func() error {
		defer func() { lines = lines[:0] }()
		if len(reqs) == 0 && strings.HasPrefix(strings.ToLower(lines[0]), "version:") {
			lines = lines[1:] // the optional "version: 1" of RFC 2849
		}
		for i, line := range lines {
			name, value, err := parseLine(line)
			if err != nil {
				return err
			}
			if i == 0 {
				if !strings.EqualFold(name, "dn") {
					return fmt.Errorf("ldif: record starts with %q, want dn", name)
				}
				cur = ldap.NewAddRequest(value, nil)
				attrs = map[string]int{}
				continue
			}
			if strings.EqualFold(name, "changetype") {
				return fmt.Errorf("ldif: %s: change records are not supported", cur.DN)
			}
			key := strings.ToLower(name)
			if j, ok := attrs[key]; ok {
				cur.Attributes[j].Vals = append(cur.Attributes[j].Vals, value)
				continue
			}
			attrs[key] = len(cur.Attributes)
			cur.Attribute(name, []string{value})
		}
		if cur != nil {
			reqs = append(reqs, cur)
			cur = nil
		}
		return nil
	}
	inComment := false
	for _, raw := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		switch {
		case raw == "":
			inComment = false
			if len(lines) > 0 {
				if err := flush(); err != nil {
					return nil, err
				}
			}
		case raw[0] == ' ':
			if inComment {
				continue
			}
			if len(lines) == 0 {
				return nil, fmt.Errorf("ldif: continuation line without a line to continue: %q", raw)
			}
			lines[len(lines)-1] += raw[1:]
		case raw[0] == '#':
			inComment = true
		default:
			inComment = false
			lines = append(lines, raw)
		}
	}
	if len(lines) > 0 {
		if err := flush(); err != nil {
			return nil, err
		}
	}
	return reqs, nil
}

func parseLine(line string) (name, value string, err error) {
	name, value, ok := strings.Cut(line, ":")
	if !ok || name == "" {
		return "", "", fmt.Errorf("ldif: malformed line %q", line)
	}
	switch {
	case strings.HasPrefix(value, ":"):
		data, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value[1:]))
		if err != nil {
			return "", "", fmt.Errorf("ldif: %s: bad base64: %w", name, err)
		}
		return name, string(data), nil
	case strings.HasPrefix(value, "<"):
		return "", "", fmt.Errorf("ldif: %s: URL values are not supported", name)
	default:
		return name, strings.TrimLeft(value, " "), nil
	}
}
