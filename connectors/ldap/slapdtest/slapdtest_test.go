package slapdtest_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/canonid/canonid/connectors/ldap/slapdtest"
)

func search(t *testing.T, conn *ldap.Conn, base string, scope int, filter string, attrs ...string) []*ldap.Entry {
	t.Helper()
	res, err := conn.Search(ldap.NewSearchRequest(base, scope, ldap.NeverDerefAliases, 0, 0, false, filter, attrs, nil))
	if err != nil {
		t.Fatalf("search %s %s: %v", base, filter, err)
	}
	return res.Entries
}

func TestStartLoadsSchemasAndPeople(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{LDIF: strings.NewReader(slapdtest.People)})
	conn := s.Conn(t)

	people := search(t, conn, s.BaseDN, ldap.ScopeSingleLevel, "(objectClass=supannPerson)", "uid", "entryUUID")
	if len(people) != 8 {
		t.Fatalf("%d people loaded, want 8", len(people))
	}
	for _, p := range people {
		if p.GetAttributeValue("entryUUID") == "" {
			t.Errorf("%s has no entryUUID", p.DN)
		}
	}

	// The schemas are loaded with their official OIDs.
	sub := search(t, conn, "cn=Subschema", ldap.ScopeBaseObject, "(objectClass=*)", "attributeTypes", "objectClasses")
	defs := strings.Join(append(sub[0].GetAttributeValues("attributeTypes"), sub[0].GetAttributeValues("objectClasses")...), "\n")
	for _, want := range []string{
		"( 1.3.6.1.4.1.7135.1.2.1.10 NAME 'supannEtuId'",
		"( 1.3.6.1.4.1.7135.1.2.1.40 NAME 'supannOIDCDateDeNaissance'",
		"( 1.3.6.1.4.1.7135.1.2.2.1 NAME 'supannPerson'",
		"( 1.3.6.1.4.1.5923.1.1.1.1 NAME 'eduPersonAffiliation'",
		"( 1.3.6.1.4.1.5923.1.1.2 NAME 'eduPerson'",
		"( 1.3.6.1.4.1.25178.1.2.3 NAME 'schacDateOfBirth'",
	} {
		if !strings.Contains(defs, want) {
			t.Errorf("subschema lacks %s", want)
		}
	}

	// Fixture passwords work; anonymous users read nothing.
	user, err := ldap.DialURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer user.Close()
	if err := user.Bind("uid=amartin,"+s.BaseDN, slapdtest.Password("amartin")); err != nil {
		t.Errorf("bind as amartin: %v", err)
	}
	anon, err := ldap.DialURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Close()
	res, err := anon.Search(ldap.NewSearchRequest(s.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", nil, nil))
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) && (err != nil || len(res.Entries) != 0) {
		t.Errorf("anonymous search = %v, %v; want nothing read", res, err)
	}
}

func TestHelpers(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{LDIF: strings.NewReader(slapdtest.People)})
	conn := s.Conn(t)
	count := func() int {
		return len(search(t, conn, s.BaseDN, ldap.ScopeSingleLevel, "(objectClass=*)"))
	}

	s.Add(t, "dn: uid=new,"+s.BaseDN+"\nobjectClass: inetOrgPerson\nuid: new\ncn: New\nsn: New\n")
	if n := count(); n != 9 {
		t.Errorf("after Add, %d entries, want 9", n)
	}
	id := s.EntryUUID(t, "uid=new,"+s.BaseDN)

	s.Replace(t, "uid=new,"+s.BaseDN, "mail", "new@univ-test.fr")
	s.Rename(t, "uid=new,"+s.BaseDN, "uid=renamed")
	got := search(t, conn, "uid=renamed,"+s.BaseDN, ldap.ScopeBaseObject, "(objectClass=*)", "mail", "uid", "entryUUID")
	if len(got) != 1 || got[0].GetAttributeValue("mail") != "new@univ-test.fr" ||
		!slices.Equal(got[0].GetAttributeValues("uid"), []string{"renamed"}) || got[0].GetAttributeValue("entryUUID") != id {
		t.Errorf("after Replace and Rename: %+v", got)
	}

	s.Delete(t, "uid=renamed,"+s.BaseDN)
	if n := count(); n != 8 {
		t.Errorf("after Delete, %d entries, want 8", n)
	}
}

func TestOptions(t *testing.T) {
	supportsSync := func(conn *ldap.Conn) bool {
		root := search(t, conn, "", ldap.ScopeBaseObject, "(objectClass=*)", "supportedControl")
		return slices.Contains(root[0].GetAttributeValues("supportedControl"), ldap.ControlTypeSyncRequest)
	}
	plain := slapdtest.Start(t, slapdtest.Options{})
	if supportsSync(plain.Conn(t)) {
		t.Errorf("without Syncprov, the server offers syncrepl")
	}
	if plain.LDAPSURL != "" || plain.CAFile != "" {
		t.Errorf("without TLS, LDAPSURL = %q, CAFile = %q", plain.LDAPSURL, plain.CAFile)
	}

	s := slapdtest.Start(t, slapdtest.Options{Syncprov: true, SessionLog: 10, TLS: true})
	if !supportsSync(s.Conn(t)) {
		t.Errorf("with Syncprov, the server does not offer syncrepl")
	}
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("CAFile %s holds no certificate", s.CAFile)
	}
	conn, err := ldap.DialURL(s.LDAPSURL, ldap.DialWithTLSConfig(&tls.Config{RootCAs: pool}))
	if err != nil {
		t.Fatalf("dial %s: %v", s.LDAPSURL, err)
	}
	defer conn.Close()
	if err := conn.Bind(s.AdminDN, s.AdminPassword); err != nil {
		t.Errorf("bind over ldaps: %v", err)
	}
}

func TestParseLDIF(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[string]map[string][]string // dn -> attribute -> values
		wantErr string
	}{
		{
			name: "folded, base64, comments, version",
			in: "version: 1\r\n# a comment\r\n#  continued\r\ndn: uid=a,dc=fr\r\nobjectClass: top\r\nobjectClass: person\r\ncn:: w4ltaWxpZQ==\r\ndescription: a long\r\n  line\r\nOBJECTCLASS: inetOrgPerson\r\n\r\n\r\n" +
				"dn: uid=b,dc=fr\nsn: B\n",
			want: map[string]map[string][]string{
				"uid=a,dc=fr": {"objectClass": {"top", "person", "inetOrgPerson"}, "cn": {"Émilie"}, "description": {"a long line"}},
				"uid=b,dc=fr": {"sn": {"B"}},
			},
		},
		{name: "empty", in: "\n# nothing\n", want: map[string]map[string][]string{}},
		{name: "change record", in: "dn: uid=a,dc=fr\nchangetype: delete\n", wantErr: "change records"},
		{name: "URL value", in: "dn: uid=a,dc=fr\njpegPhoto:< file:///a.jpg\n", wantErr: "URL values"},
		{name: "no dn", in: "cn: a\n", wantErr: "want dn"},
		{name: "bad base64", in: "dn: uid=a,dc=fr\ncn:: !!!\n", wantErr: "base64"},
		{name: "no colon", in: "dn: uid=a,dc=fr\ncn\n", wantErr: "malformed"},
		{name: "dangling continuation", in: " x\n", wantErr: "continuation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reqs, err := slapdtest.ParseLDIF(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseLDIF() = %v, want an error about %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseLDIF() = %v", err)
			}
			got := map[string]map[string][]string{}
			for _, r := range reqs {
				got[r.DN] = map[string][]string{}
				for _, a := range r.Attributes {
					got[r.DN][a.Type] = a.Vals
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("ParseLDIF() = %v, want %v", got, tt.want)
			}
			for dn, attrs := range tt.want {
				for name, vals := range attrs {
					if !slices.Equal(got[dn][name], vals) {
						t.Errorf("%s %s = %q, want %q", dn, name, got[dn][name], vals)
					}
				}
				if len(got[dn]) != len(attrs) {
					t.Errorf("%s has attributes %v, want %v", dn, got[dn], attrs)
				}
			}
		})
	}
}

func TestPeopleParse(t *testing.T) {
	reqs, err := slapdtest.ParseLDIF(slapdtest.People)
	if err != nil || len(reqs) != 8 {
		t.Fatalf("ParseLDIF(People) = %d entries, %v", len(reqs), err)
	}
}

func TestGenerateSupann(t *testing.T) {
	gen := func(n int, seed int64) string {
		var b bytes.Buffer
		if err := slapdtest.GenerateSupann(&b, n, seed); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	a := gen(500, 1)
	if a != gen(500, 1) {
		t.Errorf("GenerateSupann is not deterministic")
	}
	if a == gen(500, 2) {
		t.Errorf("GenerateSupann ignores the seed")
	}

	reqs, err := slapdtest.ParseLDIF(a)
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 500 {
		t.Fatalf("%d entries, want 500", len(reqs))
	}
	dns, uuids := map[string]bool{}, map[string]bool{}
	students := 0
	for _, r := range reqs {
		attrs := map[string][]string{}
		for _, at := range r.Attributes {
			attrs[at.Type] = at.Vals
		}
		for _, name := range []string{"uid", "mail", "sn", "givenName", "entryUUID", "supannRefId", "eduPersonPrimaryAffiliation", "supannEtablissement"} {
			if len(attrs[name]) == 0 {
				t.Errorf("%s lacks %s", r.DN, name)
			}
		}
		if len(attrs["supannOIDCDateDeNaissance"])+len(attrs["schacDateOfBirth"]) != 1 {
			t.Errorf("%s has no birth date, or two", r.DN)
		}
		if len(attrs["supannEtuId"]) == 1 {
			students++
			if len(attrs["supannCodeINE"]) != 1 || !strings.HasPrefix(attrs["supannRefId"][0], "{APOGEE}") {
				t.Errorf("student %s lacks an INE or an {APOGEE} reference", r.DN)
			}
		}
		if dns[r.DN] || uuids[attrs["entryUUID"][0]] {
			t.Errorf("%s: DN or entryUUID repeated", r.DN)
		}
		dns[r.DN], uuids[attrs["entryUUID"][0]] = true, true
	}
	if students < 300 || students > 450 {
		t.Errorf("%d students of 500, want about three in four", students)
	}

	// slapadd loads it, with the given entryUUIDs.
	s := slapdtest.Start(t, slapdtest.Options{LDIF: strings.NewReader(a)})
	got := search(t, s.Conn(t), s.BaseDN, ldap.ScopeSingleLevel, "(objectClass=supannPerson)", "entryUUID")
	if len(got) != 500 {
		t.Fatalf("slapd holds %d people, want 500", len(got))
	}
	for _, e := range got {
		if !uuids[e.GetAttributeValue("entryUUID")] {
			t.Errorf("%s has entryUUID %s, not the generated one", e.DN, e.GetAttributeValue("entryUUID"))
		}
	}
}
