package ldapwrite_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/canonid/canonid/connectors/ldap/slapdtest"
	"github.com/canonid/canonid/propagate"
	"github.com/canonid/canonid/propagate/ldapwrite"
)

// The target writes below baseDN, and moves retired entries below
// retiredBaseDN; both are created by start.
const (
	baseDN        = "ou=canonid," + slapdtest.Suffix
	retiredBaseDN = "ou=merged," + slapdtest.Suffix
)

func dnOf(login string) string        { return "uid=" + login + "," + baseDN }
func retiredDNOf(login string) string { return "uid=" + login + "," + retiredBaseDN }

// Canonical ids of the test accounts.
const (
	aliceID = "0b9f6c1e-5d1a-4c1e-9a51-2f1c2d3e4f50"
	arsID   = "7d3e2c1b-0a9f-4e8d-b7c6-a5b4c3d2e1f0"
	otherID = "11111111-2222-4333-8444-555555555555"
)

// alice is a student's university account (seed 000).
func alice() propagate.Account {
	return propagate.Account{
		ID: aliceID, State: propagate.StateActive,
		Login: "amartin", GivenName: "Alice", FamilyName: "Martin", DisplayName: "Alice Martin",
		Phone:      "+33 6 12 34 56 78",
		Emails:     []propagate.Email{{Address: "alice.martin@univ-test.fr", Primary: true}},
		Attributes: map[string][]string{"affiliation": {"student", "member"}},
		CreatedAt:  time.Date(2024, 9, 2, 8, 0, 0, 0, time.UTC),
	}
}

// aliceARS is the account the regional health agency created for the same
// intern, with her personal address (seed 000).
func aliceARS() propagate.Account {
	return propagate.Account{
		ID: arsID, State: propagate.StateActive,
		Login: "amartin-ars", GivenName: "Alice", FamilyName: "Martin",
		Emails:     []propagate.Email{{Address: "alice.martin@gmail.example", Primary: true}},
		Attributes: map[string][]string{"affiliation": {"affiliate"}},
		CreatedAt:  time.Date(2025, 1, 6, 8, 0, 0, 0, time.UTC),
	}
}

// directory is a slapd with the target's two organizational units, and an
// administrator's connection to check what the target wrote.
type directory struct {
	*slapdtest.Server
	conn *ldap.Conn
}

func start(t *testing.T, opts slapdtest.Options) *directory {
	t.Helper()
	s := slapdtest.Start(t, opts)
	s.Add(t, fmt.Sprintf(`dn: %s
objectClass: organizationalUnit
ou: canonid

dn: %s
objectClass: organizationalUnit
ou: merged
`, baseDN, retiredBaseDN))
	return &directory{Server: s, conn: s.Conn(t)}
}

// entry returns the user attributes of dn, and the operational ones
// named, or nil when there is no such entry.
func (d *directory) entry(t *testing.T, dn string, operational ...string) map[string][]string {
	t.Helper()
	res, err := d.conn.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		0, 0, false, "(objectClass=*)", append([]string{"*"}, operational...), nil))
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return nil
	}
	if err != nil {
		t.Fatalf("read %s: %v", dn, err)
	}
	m := map[string][]string{}
	for _, a := range res.Entries[0].Attributes {
		m[a.Name] = a.Values
	}
	return m
}

// children returns the DNs of the entries just below base, sorted.
func (d *directory) children(t *testing.T, base string) []string {
	t.Helper()
	res, err := d.conn.Search(ldap.NewSearchRequest(base, ldap.ScopeSingleLevel, ldap.NeverDerefAliases,
		0, 0, false, "(objectClass=*)", []string{"1.1"}, nil))
	if err != nil {
		t.Fatalf("list %s: %v", base, err)
	}
	dns := []string{}
	for _, e := range res.Entries {
		dns = append(dns, e.DN)
	}
	slices.Sort(dns)
	return dns
}

// checkAttributes compares the attributes of dn named in want with want
// (nil: absent).
func (d *directory) checkAttributes(t *testing.T, dn string, want map[string][]string) {
	t.Helper()
	got := d.entry(t, dn)
	if got == nil {
		t.Fatalf("%s: no such entry", dn)
	}
	for name, values := range want {
		if !reflect.DeepEqual(got[name], values) {
			t.Errorf("%s: %s = %q, want %q", dn, name, got[name], values)
		}
	}
}

func newTarget(t *testing.T, d *directory, modify func(*ldapwrite.Config)) *ldapwrite.Target {
	t.Helper()
	cfg := ldapwrite.Config{
		Name:         "directory",
		URL:          d.URL,
		BindDN:       d.AdminDN,
		BindPassword: d.AdminPassword,
		BaseDN:       baseDN,
		Timeout:      10 * time.Second,
	}
	if modify != nil {
		modify(&cfg)
	}
	tg, err := ldapwrite.New(cfg)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	t.Cleanup(func() {
		if err := tg.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	return tg
}

func write(t *testing.T, tg *ldapwrite.Target, a propagate.Account, prev propagate.Remote) propagate.Remote {
	t.Helper()
	r, err := tg.Write(t.Context(), a, prev)
	if err != nil {
		t.Fatalf("Write(%s, %+v) = %v", a.Login, prev, err)
	}
	return r
}

func TestWriteCreatesEntry(t *testing.T) {
	d := start(t, slapdtest.Options{})
	tg := newTarget(t, d, nil)
	a := alice()
	a.Emails = append(a.Emails, propagate.Email{Address: "alice.martin@gmail.example"})
	a.DirectoryVisible = ptr(false)
	a.MailForward = &propagate.MailForward{Address: "alice.martin@gmail.example", KeepCopy: true}

	r := write(t, tg, a, propagate.Remote{})
	if want := (propagate.Remote{ID: dnOf("amartin")}); r != want {
		t.Fatalf("Write() = %+v, want %+v", r, want)
	}
	want := map[string][]string{
		"objectClass":           {"inetOrgPerson", "supannPerson", "eduPerson", "supannRessource"},
		"uid":                   {"amartin"},
		"cn":                    {"Alice Martin"},
		"sn":                    {"Martin"},
		"givenName":             {"Alice"},
		"displayName":           {"Alice Martin"},
		"mail":                  {"alice.martin@univ-test.fr", "alice.martin@gmail.example"},
		"telephoneNumber":       {"+33 6 12 34 56 78"},
		"eduPersonAffiliation":  {"student", "member"},
		"supannListeRouge":      {"TRUE"},
		"mailForwardingAddress": {"alice.martin@gmail.example", "alice.martin@univ-test.fr"},
		"supannRessourceEtat":   {"{COMPTE}A"},
		"supannRefId":           {"{CANONID}" + aliceID},
	}
	if got := d.entry(t, r.ID); !reflect.DeepEqual(got, want) {
		t.Errorf("entry %s =\n%v\nwant\n%v", r.ID, got, want)
	}

	// Delivered again: nothing to change, nothing sent.
	csn := d.entry(t, r.ID, "entryCSN")["entryCSN"]
	if again := write(t, tg, a, r); again != r {
		t.Errorf("Write() again = %+v, want %+v", again, r)
	}
	if got := d.entry(t, r.ID, "entryCSN")["entryCSN"]; !reflect.DeepEqual(got, csn) {
		t.Errorf("Write() again modified the entry: entryCSN %q, was %q", got, csn)
	}
}

func TestWriteUpdatesEntry(t *testing.T) {
	d := start(t, slapdtest.Options{})
	tg := newTarget(t, d, nil)
	a := alice()
	a.DirectoryVisible = ptr(true)
	a.MailForward = &propagate.MailForward{Address: "alice.martin@gmail.example"}
	r := write(t, tg, a, propagate.Remote{})
	uuid := d.EntryUUID(t, r.ID)

	a.GivenName, a.FamilyName, a.DisplayName = "Alicia", "Martin-Durand", ""
	a.Emails = []propagate.Email{
		{Address: "alice.martin@univ-test.fr"},
		{Address: "alicia.martin-durand@univ-test.fr", Primary: true},
	}
	a.Phone = ""
	a.DirectoryVisible, a.MailForward = nil, nil
	a.Attributes = map[string][]string{"affiliation": {"staff"}}
	r2 := write(t, tg, a, r)
	if r2 != r {
		t.Errorf("Write() = %+v, want %+v", r2, r)
	}
	d.checkAttributes(t, r.ID, map[string][]string{
		"cn":                    {"Alicia Martin-Durand"},
		"givenName":             {"Alicia"},
		"sn":                    {"Martin-Durand"},
		"displayName":           nil,
		"mail":                  {"alicia.martin-durand@univ-test.fr", "alice.martin@univ-test.fr"},
		"telephoneNumber":       nil,
		"supannListeRouge":      nil,
		"mailForwardingAddress": nil,
		"eduPersonAffiliation":  {"staff"},
		"supannRessourceEtat":   {"{COMPTE}A"},
	})
	if got := d.EntryUUID(t, r.ID); got != uuid {
		t.Errorf("entryUUID = %s, was %s: the entry was re-created", got, uuid)
	}
}

func TestWriteInactive(t *testing.T) {
	d := start(t, slapdtest.Options{})
	tg := newTarget(t, d, nil)
	a := alice()
	a.State = propagate.StateInactive // awaiting activation
	// A deadline sooner than the configured timeout bounds the requests.
	ctx, cancel := context.WithTimeout(t.Context(), 9*time.Second)
	defer cancel()
	r, err := tg.Write(ctx, a, propagate.Remote{})
	if err != nil {
		t.Fatalf("Write() = %v", err)
	}
	d.checkAttributes(t, r.ID, map[string][]string{"supannRessourceEtat": {"{COMPTE}I"}, "mail": {"alice.martin@univ-test.fr"}})

	a.State = propagate.StateActive
	r = write(t, tg, a, r)
	d.checkAttributes(t, r.ID, map[string][]string{"supannRessourceEtat": {"{COMPTE}A"}})

	a.State = propagate.StateInactive // suspended
	r = write(t, tg, a, r)
	d.checkAttributes(t, r.ID, map[string][]string{"supannRessourceEtat": {"{COMPTE}I"}})
}

func TestWriteRenamesOnLoginChange(t *testing.T) {
	d := start(t, slapdtest.Options{})
	tg := newTarget(t, d, nil)
	a := alice()
	r := write(t, tg, a, propagate.Remote{})
	uuid := d.EntryUUID(t, r.ID)

	for _, login := range []string{"alicia.martin", "martin, alice+1", "amartin"} {
		a.Login = login
		a.DisplayName = "Alice Martin (" + login + ")"
		prev := r
		r = write(t, tg, a, prev)
		want := "uid=" + ldap.EscapeDN(login) + "," + baseDN
		if r.ID != want {
			t.Fatalf("Write(login %q) = %+v, want ID %s", login, r, want)
		}
		if d.entry(t, prev.ID) != nil {
			t.Errorf("the old entry %s is still there", prev.ID)
		}
		if got := d.children(t, baseDN); len(got) != 1 {
			t.Errorf("entries below %s: %q, want one", baseDN, got)
		}
		d.checkAttributes(t, r.ID, map[string][]string{"uid": {login}, "displayName": {a.DisplayName}})
		if got := d.EntryUUID(t, r.ID); got != uuid {
			t.Errorf("entryUUID = %s, was %s: the entry was re-created, not renamed", got, uuid)
		}
	}
}

func TestWriteRDNAttribute(t *testing.T) {
	d := start(t, slapdtest.Options{})
	tg := newTarget(t, d, func(c *ldapwrite.Config) { c.RDNAttribute = "cn" })
	a := alice()
	r := write(t, tg, a, propagate.Remote{})
	if want := "cn=amartin," + baseDN; r.ID != want {
		t.Fatalf("Write() = %+v, want ID %s", r, want)
	}
	d.checkAttributes(t, r.ID, map[string][]string{"cn": {"Alice Martin", "amartin"}, "uid": {"amartin"}})

	a.DisplayName = "Alicia Martin"
	if r2 := write(t, tg, a, r); r2 != r {
		t.Errorf("Write() = %+v, want %+v", r2, r)
	}
	d.checkAttributes(t, r.ID, map[string][]string{"cn": {"Alicia Martin", "amartin"}})
}

func TestMergeAndUndo(t *testing.T) {
	for _, onMerge := range []string{ldapwrite.OnMergeDelete, ldapwrite.OnMergeMove} {
		t.Run(onMerge, func(t *testing.T) {
			d := start(t, slapdtest.Options{})
			tg := newTarget(t, d, func(c *ldapwrite.Config) {
				c.OnMerge = onMerge
				if onMerge == ldapwrite.OnMergeMove {
					c.RetiredBaseDN = retiredBaseDN
				}
			})
			survivor, retired := alice(), aliceARS()
			rs := write(t, tg, survivor, propagate.Remote{})
			rr := write(t, tg, retired, propagate.Remote{})
			retiredUUID := d.EntryUUID(t, rr.ID)

			// The merge (seed 000): the intern adds her personal address
			// to her university account, chooses the red list and a
			// redirection keeping a copy; the agency account retires.
			gone := retired
			gone.State, gone.SurvivorID, gone.Emails = propagate.StateRetired, survivor.ID, nil
			merged := survivor
			merged.Emails = []propagate.Email{
				{Address: "alice.martin@univ-test.fr", Primary: true},
				{Address: "alice.martin@gmail.example"},
			}
			merged.DirectoryVisible = ptr(false)
			merged.MailForward = &propagate.MailForward{Address: "alice.martin@gmail.example", KeepCopy: true}
			merged.MergedLogins = []string{"amartin-ars"}

			rr2 := write(t, tg, gone, rr)
			rs2 := write(t, tg, merged, rs)
			if rr2.RetiredAt.IsZero() {
				t.Errorf("Write(retired) = %+v, want RetiredAt set", rr2)
			}
			if rs2 != rs {
				t.Errorf("Write(survivor) = %+v, want %+v", rs2, rs)
			}
			if d.entry(t, rr.ID) != nil {
				t.Errorf("the retired entry %s is still there", rr.ID)
			}
			switch onMerge {
			case ldapwrite.OnMergeDelete:
				if rr2.ID != "" {
					t.Errorf("Write(retired) = %+v, want no ID: the entry is gone", rr2)
				}
				if got := d.children(t, retiredBaseDN); len(got) != 0 {
					t.Errorf("entries below %s: %q, want none", retiredBaseDN, got)
				}
			case ldapwrite.OnMergeMove:
				if want := retiredDNOf("amartin-ars"); rr2.ID != want {
					t.Fatalf("Write(retired) = %+v, want ID %s", rr2, want)
				}
				d.checkAttributes(t, rr2.ID, map[string][]string{
					"uid":                 {"amartin-ars"},
					"mail":                nil,
					"supannRessourceEtat": {"{COMPTE}I"},
					"supannRefId":         {"{CANONID}" + arsID},
				})
				if got := d.EntryUUID(t, rr2.ID); got != retiredUUID {
					t.Errorf("entryUUID = %s, was %s: the entry was re-created, not moved", got, retiredUUID)
				}
			}
			d.checkAttributes(t, rs.ID, map[string][]string{
				"mail":                  {"alice.martin@univ-test.fr", "alice.martin@gmail.example"},
				"supannListeRouge":      {"TRUE"},
				"mailForwardingAddress": {"alice.martin@gmail.example", "alice.martin@univ-test.fr"},
			})
			if got, want := d.children(t, baseDN), []string{dnOf("amartin")}; !reflect.DeepEqual(got, want) {
				t.Errorf("entries below %s: %q, want %q", baseDN, got, want)
			}

			// Delivered again, with or without the result of the first
			// delivery: the same outcome.
			if again := write(t, tg, gone, rr2); again != rr2 {
				t.Errorf("Write(retired) again = %+v, want %+v", again, rr2)
			}
			if again := write(t, tg, gone, rr); again.ID != rr2.ID || again.RetiredAt.IsZero() {
				t.Errorf("Write(retired) again from %+v = %+v, want ID %q and RetiredAt set", rr, again, rr2.ID)
			}

			// The undo: each account gets its own values back.
			rr3 := write(t, tg, retired, rr2)
			rs3 := write(t, tg, survivor, rs2)
			if want := (propagate.Remote{ID: dnOf("amartin-ars")}); rr3 != want {
				t.Errorf("Write(undone) = %+v, want %+v", rr3, want)
			}
			if rs3 != rs {
				t.Errorf("Write(survivor) = %+v, want %+v", rs3, rs)
			}
			d.checkAttributes(t, rr3.ID, map[string][]string{
				"mail":                 {"alice.martin@gmail.example"},
				"eduPersonAffiliation": {"affiliate"},
				"supannRessourceEtat":  {"{COMPTE}A"},
			})
			d.checkAttributes(t, rs.ID, map[string][]string{
				"mail":                  {"alice.martin@univ-test.fr"},
				"supannListeRouge":      nil,
				"mailForwardingAddress": nil,
			})
			uuid := d.EntryUUID(t, rr3.ID)
			switch onMerge {
			case ldapwrite.OnMergeDelete:
				if uuid == retiredUUID {
					t.Errorf("entryUUID = %s, the deleted entry's", uuid)
				}
			case ldapwrite.OnMergeMove:
				if uuid != retiredUUID {
					t.Errorf("entryUUID = %s, was %s: the entry was re-created, not moved back", uuid, retiredUUID)
				}
			}
			if got := d.children(t, retiredBaseDN); len(got) != 0 {
				t.Errorf("entries below %s: %q, want none", retiredBaseDN, got)
			}
			if got, want := d.children(t, baseDN), []string{dnOf("amartin"), dnOf("amartin-ars")}; !reflect.DeepEqual(got, want) {
				t.Errorf("entries below %s: %q, want %q", baseDN, got, want)
			}
		})
	}
}

func TestWriteRejectsBadAccounts(t *testing.T) {
	tg, err := ldapwrite.New(validConfig()) // never contacted
	if err != nil {
		t.Fatal(err)
	}
	noID := alice()
	noID.ID = ""
	unknown := alice()
	unknown.State = "deleted"
	for _, tt := range []struct {
		name string
		a    propagate.Account
		want string
	}{
		{"no id", noID, "account without id"},
		{"unknown state", unknown, `unknown state "deleted"`},
	} {
		_, err := tg.Write(t.Context(), tt.a, propagate.Remote{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Write(%s) = %v, want an error about %q", tt.name, err, tt.want)
		}
		if ok, _ := propagate.IsUnavailable(err); ok {
			t.Errorf("Write(%s) = %v, want a permanent error", tt.name, err)
		}
	}
}

func TestWriteRetiredNeverWritten(t *testing.T) {
	d := start(t, slapdtest.Options{})
	tg := newTarget(t, d, nil)
	a := aliceARS()
	a.State, a.SurvivorID, a.Emails = propagate.StateRetired, aliceID, nil
	if r := write(t, tg, a, propagate.Remote{}); r != (propagate.Remote{}) {
		t.Errorf("Write() = %+v, want nothing", r)
	}
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	if r := write(t, tg, a, propagate.Remote{RetiredAt: at}); r != (propagate.Remote{RetiredAt: at}) {
		t.Errorf("Write() = %+v, want RetiredAt kept", r)
	}
	if got := d.children(t, baseDN); len(got) != 0 {
		t.Errorf("entries below %s: %q, want none", baseDN, got)
	}
}

func TestWriteAdoptsExistingEntry(t *testing.T) {
	d := start(t, slapdtest.Options{})
	d.Add(t, `dn: `+dnOf("amartin")+`
objectClass: inetOrgPerson
objectClass: supannPerson
uid: amartin
cn: A. Martin
sn: Martin
mail: old.address@univ-test.fr
description: created by hand
supannRefId: {APOGEE}21900001
`)
	uuid := d.EntryUUID(t, dnOf("amartin"))
	tg := newTarget(t, d, nil)
	r := write(t, tg, alice(), propagate.Remote{})
	if want := (propagate.Remote{ID: dnOf("amartin")}); r != want {
		t.Fatalf("Write() = %+v, want %+v", r, want)
	}
	d.checkAttributes(t, r.ID, map[string][]string{
		"objectClass": {"inetOrgPerson", "supannPerson", "eduPerson", "supannRessource"},
		"cn":          {"Alice Martin"},
		"mail":        {"alice.martin@univ-test.fr"},
		"description": {"created by hand"},
		"supannRefId": {"{APOGEE}21900001", "{CANONID}" + aliceID},
	})
	if got := d.EntryUUID(t, r.ID); got != uuid {
		t.Errorf("entryUUID = %s, was %s: the entry was re-created", got, uuid)
	}
	csn := d.entry(t, r.ID, "entryCSN")["entryCSN"]
	write(t, tg, alice(), r)
	if got := d.entry(t, r.ID, "entryCSN")["entryCSN"]; !reflect.DeepEqual(got, csn) {
		t.Errorf("Write() again modified the adopted entry: entryCSN %q, was %q", got, csn)
	}
}

func TestWriteRefusesAnotherAccountsEntry(t *testing.T) {
	d := start(t, slapdtest.Options{})
	d.Add(t, `dn: `+dnOf("amartin")+`
objectClass: inetOrgPerson
objectClass: supannPerson
uid: amartin
cn: Another Martin
sn: Martin
supannRefId: {CANONID}`+otherID+`
`)
	tg := newTarget(t, d, nil)
	_, err := tg.Write(t.Context(), alice(), propagate.Remote{})
	if err == nil {
		t.Fatal("Write() = nil, want an error: the entry belongs to another account")
	}
	t.Logf("Write() = %v", err)
	if ok, _ := propagate.IsUnavailable(err); ok {
		t.Errorf("Write() = %v, want a permanent error", err)
	}
	for _, want := range []string{`ldap target "directory"`, dnOf("amartin"), otherID} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Write() = %q, want it to name %q", err, want)
		}
	}
	d.checkAttributes(t, dnOf("amartin"), map[string][]string{"cn": {"Another Martin"}})
}

func TestWriteFindsMovedEntry(t *testing.T) {
	d := start(t, slapdtest.Options{})
	tg := newTarget(t, d, nil)
	a := alice()
	r := write(t, tg, a, propagate.Remote{})
	uuid := d.EntryUUID(t, r.ID)
	d.Rename(t, r.ID, "uid=renamed-by-hand")

	a.DisplayName = "Alicia Martin"
	if r2 := write(t, tg, a, r); r2 != r {
		t.Errorf("Write() = %+v, want %+v", r2, r)
	}
	if got, want := d.children(t, baseDN), []string{r.ID}; !reflect.DeepEqual(got, want) {
		t.Errorf("entries below %s: %q, want %q", baseDN, got, want)
	}
	d.checkAttributes(t, r.ID, map[string][]string{"uid": {"amartin"}, "displayName": {"Alicia Martin"}})
	if got := d.EntryUUID(t, r.ID); got != uuid {
		t.Errorf("entryUUID = %s, was %s: the entry was re-created, not renamed back", got, uuid)
	}
}

func TestDelete(t *testing.T) {
	d := start(t, slapdtest.Options{})
	tg := newTarget(t, d, func(c *ldapwrite.Config) { c.OnMerge, c.RetiredBaseDN = ldapwrite.OnMergeMove, retiredBaseDN })
	a := aliceARS()
	r := write(t, tg, a, propagate.Remote{})
	a.State, a.SurvivorID, a.Emails = propagate.StateRetired, aliceID, nil
	r = write(t, tg, a, r)
	if r.ID != retiredDNOf("amartin-ars") {
		t.Fatalf("Write(retired) = %+v", r)
	}
	for i := range 2 {
		if err := tg.Delete(t.Context(), r); err != nil {
			t.Fatalf("Delete() #%d = %v", i+1, err)
		}
		if d.entry(t, r.ID) != nil {
			t.Errorf("Delete() #%d left %s", i+1, r.ID)
		}
	}
	if err := tg.Delete(t.Context(), propagate.Remote{}); err != nil {
		t.Errorf("Delete(nothing written) = %v", err)
	}
}

func TestRefusals(t *testing.T) {
	d := start(t, slapdtest.Options{})
	tests := []struct {
		name   string
		modify func(*ldapwrite.Config)
		want   []string
		// down: the target refuses everything until an operator acts
		// (a rotated bind password): delivery waits rather than
		// dead-lettering every change.
		down bool
	}{
		{"wrong password", func(c *ldapwrite.Config) { c.BindPassword = secret },
			[]string{"(ldap://127.0.0.1:", "bind as " + slapdtest.AdminDN, "Invalid Credentials"}, true},
		{"classes without the SupAnn attributes", func(c *ldapwrite.Config) { c.ObjectClasses = []string{"inetOrgPerson"} },
			[]string{"add " + dnOf("amartin"), "LDAP Result Code 65", "not allowed"}, false},
		{"missing base", func(c *ldapwrite.Config) { c.BaseDN = "ou=nowhere," + slapdtest.Suffix },
			[]string{"add uid=amartin,ou=nowhere,", "LDAP Result Code 32"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := newTarget(t, d, tt.modify)
			_, err := tg.Write(t.Context(), alice(), propagate.Remote{})
			if err == nil {
				t.Fatal("Write() = nil, want an error")
			}
			t.Logf("Write() = %v", err)
			if ok, _ := propagate.IsUnavailable(err); ok != tt.down {
				t.Errorf("Write() = %v: unavailable %v, want %v", err, ok, tt.down)
			}
			for _, w := range append(tt.want, `ldap target "directory"`) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Write() = %q, want it to contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("Write() = %q leaks the password", err)
			}
		})
	}
}

func TestUnavailable(t *testing.T) {
	t.Run("nobody listening", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		cfg := validConfig()
		cfg.URL = "ldap://" + addr
		tg, err := ldapwrite.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = tg.Write(t.Context(), alice(), propagate.Remote{})
		checkUnavailable(t, "Write()", err, addr)
		err = tg.Delete(t.Context(), propagate.Remote{ID: dnOf("amartin")})
		checkUnavailable(t, "Delete()", err, addr)
	})

	t.Run("connection lost, then server gone", func(t *testing.T) {
		d := start(t, slapdtest.Options{})
		p := startProxy(t, d.URL)
		tg := newTarget(t, d, func(c *ldapwrite.Config) { c.URL = p.url })
		a := alice()
		r := write(t, tg, a, propagate.Remote{})

		// The server closes the connection (idle timeout, restart): the
		// next call opens a new one.
		p.cut()
		a.DisplayName = "Alicia Martin"
		r = write(t, tg, a, r)
		d.checkAttributes(t, r.ID, map[string][]string{"displayName": {"Alicia Martin"}})

		// The server is gone.
		p.close()
		a.DisplayName = "Alice Martin"
		_, err := tg.Write(t.Context(), a, r)
		checkUnavailable(t, "Write()", err, p.url)
		err = tg.Delete(t.Context(), r)
		checkUnavailable(t, "Delete()", err, p.url)
	})

	t.Run("context canceled", func(t *testing.T) {
		d := start(t, slapdtest.Options{})
		tg := newTarget(t, d, nil)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := tg.Write(ctx, alice(), propagate.Remote{})
		if ok, _ := propagate.IsUnavailable(err); !ok || !errors.Is(err, context.Canceled) {
			t.Errorf("Write() = %v, want an unavailable error wrapping context.Canceled", err)
		}
		if got := d.children(t, baseDN); len(got) != 0 {
			t.Errorf("entries below %s: %q, want none", baseDN, got)
		}
		// The target is still usable.
		write(t, tg, alice(), propagate.Remote{})
	})
}

func checkUnavailable(t *testing.T, call string, err error, addr string) {
	t.Helper()
	t.Logf("%s = %v", call, err)
	if ok, _ := propagate.IsUnavailable(err); !ok {
		t.Errorf("%s = %v, want a propagate.UnavailableError", call, err)
	}
	if err != nil && !strings.Contains(err.Error(), strings.TrimPrefix(addr, "ldap://")) {
		t.Errorf("%s = %q, want it to name %s", call, err, addr)
	}
	if err != nil && strings.Contains(err.Error(), secret) {
		t.Errorf("%s = %q leaks the password", call, err)
	}
}

func TestTLS(t *testing.T) {
	d := start(t, slapdtest.Options{TLS: true})
	tests := []struct {
		name    string
		modify  func(*ldapwrite.Config)
		wantErr string
	}{
		{"ldaps", func(c *ldapwrite.Config) { c.URL, c.CAFile = d.LDAPSURL, d.CAFile }, ""},
		{"StartTLS", func(c *ldapwrite.Config) { c.StartTLS, c.CAFile = true, d.CAFile }, ""},
		{"ldaps, unknown CA", func(c *ldapwrite.Config) { c.URL = d.LDAPSURL }, "certificate"},
		{"StartTLS, unknown CA", func(c *ldapwrite.Config) { c.StartTLS = true }, "certificate"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := newTarget(t, d, tt.modify)
			a := alice()
			a.ID, a.Login = fmt.Sprintf("tls-%d", i), fmt.Sprintf("tls-%d", i)
			r, err := tg.Write(t.Context(), a, propagate.Remote{})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Write() = %v", err)
				}
				d.checkAttributes(t, r.ID, map[string][]string{"uid": {a.Login}})
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Write() = %v, want an error about %q", err, tt.wantErr)
			}
		})
	}
}

func TestConcurrentCalls(t *testing.T) {
	d := start(t, slapdtest.Options{})
	tg := newTarget(t, d, nil)
	const workers, each = 4, 3
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				a := alice()
				a.ID = fmt.Sprintf("%08d-0000-4000-8000-000000000000", w*each+i)
				a.Login = fmt.Sprintf("user%d-%d", w, i)
				r, err := tg.Write(t.Context(), a, propagate.Remote{})
				if err == nil && i == each-1 {
					err = tg.Delete(t.Context(), r)
				}
				if err != nil {
					errs <- fmt.Errorf("%s: %w", a.Login, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := d.children(t, baseDN); len(got) != workers*(each-1) {
		t.Errorf("%d entries below %s, want %d", len(got), baseDN, workers*(each-1))
	}
}

// proxy relays TCP connections to a server, and can cut them or stop.
type proxy struct {
	url    string
	l      net.Listener
	target string

	mu     sync.Mutex
	conns  []net.Conn
	closed bool
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{url: "ldap://" + l.Addr().String(), l: l, target: u.Host}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { p.relay(c) })
		}
	})
	t.Cleanup(func() {
		p.close()
		wg.Wait()
	})
	return p
}

func (p *proxy) relay(c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.Close()
		s.Close()
		return
	}
	p.conns = append(p.conns, c, s)
	p.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(s, c)
		s.Close()
	}()
	_, _ = io.Copy(c, s)
	c.Close()
	<-done
}

// cut closes the connections relayed so far.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// close stops accepting connections and cuts those relayed.
func (p *proxy) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.l.Close()
	p.cut()
}
