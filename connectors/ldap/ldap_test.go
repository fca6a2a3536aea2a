package ldap_test

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/canonid/canonid/connectors"
	"github.com/canonid/canonid/connectors/ldap"
	"github.com/canonid/canonid/connectors/ldap/slapdtest"
)

// mappingAttrs are the attributes a SupAnn mapping reads.
var mappingAttrs = []string{
	"uid", "mail", "cn", "givenName", "sn", "displayName", "supannMailPerso", "supannCivilite",
	"supannOIDCDateDeNaissance", "schacDateOfBirth", "supannCodeINE", "supannEtuId", "supannEmpId",
	"supannRefId", "eduPersonAffiliation", "eduPersonPrimaryAffiliation", "supannEtablissement",
	"supannListeRouge", "telephoneNumber",
}

var fixtureUIDs = []string{"amartin", "bdupont", "cbernard", "dpetit", "eleroy", "fmoreau", "groux", "hfaux"}

func dnOf(uid string) string { return "uid=" + uid + "," + slapdtest.BaseDN }

func startPeople(t *testing.T, opts slapdtest.Options) *slapdtest.Server {
	t.Helper()
	opts.LDIF = strings.NewReader(slapdtest.People)
	return slapdtest.Start(t, opts)
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func newConnector(t *testing.T, s *slapdtest.Server, modify func(*ldap.Config)) *ldap.Connector {
	t.Helper()
	cfg := ldap.Config{
		URL:          s.URL,
		BindDN:       s.AdminDN,
		BindPassword: s.AdminPassword,
		BaseDN:       s.BaseDN,
		Filter:       "(objectClass=supannPerson)",
		Timeout:      10 * time.Second,
	}
	if modify != nil {
		modify(&cfg)
	}
	c, err := ldap.New("campus", cfg, mappingAttrs, testLogger(t))
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	if c.Name() != "campus" {
		t.Fatalf("Name() = %q", c.Name())
	}
	return c
}

// uuids returns the entryUUID of each fixture uid, read from the server.
func uuids(t *testing.T, s *slapdtest.Server, uids ...string) map[string]string {
	t.Helper()
	ids := map[string]string{}
	for _, uid := range uids {
		ids[uid] = s.EntryUUID(t, dnOf(uid))
	}
	return ids
}

// listAll lists the directory, failing on an entry listed twice.
func listAll(t *testing.T, c *ldap.Connector) map[string]connectors.Entry {
	t.Helper()
	got := map[string]connectors.Entry{}
	err := c.List(t.Context(), func(e connectors.Entry) error {
		if prev, dup := got[e.ExternalID]; dup {
			t.Errorf("entry %s listed twice (%s, %s)", e.ExternalID, prev.Name, e.Name)
		}
		got[e.ExternalID] = e
		return nil
	})
	if err != nil {
		t.Fatalf("List() = %v", err)
	}
	return got
}

func scanAll(t *testing.T, c *ldap.Connector) []string {
	t.Helper()
	var ids []string
	if err := c.ScanIDs(t.Context(), func(id string) error {
		ids = append(ids, id)
		return nil
	}); err != nil {
		t.Fatalf("ScanIDs() = %v", err)
	}
	slices.Sort(ids)
	return ids
}

func TestListFixtures(t *testing.T) {
	s := startPeople(t, slapdtest.Options{})
	ids := uuids(t, s, fixtureUIDs...)
	c := newConnector(t, s, nil)

	got := listAll(t, c)
	if len(got) != len(fixtureUIDs) {
		t.Fatalf("List() gave %d entries, want %d", len(got), len(fixtureUIDs))
	}
	for _, uid := range fixtureUIDs {
		e, ok := got[ids[uid]]
		if !ok {
			t.Errorf("%s (entryUUID %s) not listed", uid, ids[uid])
			continue
		}
		if e.Name != dnOf(uid) {
			t.Errorf("%s: Name = %q, want %q", uid, e.Name, dnOf(uid))
		}
		if v := e.Attributes["uid"]; !slices.Equal(v, []string{uid}) {
			t.Errorf("%s: uid = %q", uid, v)
		}
		if e.ModifiedAt.IsZero() || time.Since(e.ModifiedAt) > time.Hour || e.ModifiedAt.Location() != time.UTC {
			t.Errorf("%s: ModifiedAt = %v, want a recent UTC time", uid, e.ModifiedAt)
		}
		if !strings.Contains(e.CSN, "#") {
			t.Errorf("%s: CSN = %q, want an entryCSN", uid, e.CSN)
		}
		for name := range e.Attributes {
			switch strings.ToLower(name) {
			case "entryuuid", "modifytimestamp", "entrycsn", "userpassword", "objectclass":
				t.Errorf("%s: attribute %s listed, though neither operational attributes nor unrequested ones should be", uid, name)
			}
		}
	}

	checks := []struct {
		uid, attr string
		want      []string
	}{
		{"amartin", "mail", []string{"alice.martin@univ-test.fr"}},
		{"amartin", "supannRefId", []string{"{APOGEE}21900001"}},
		{"amartin", "eduPersonAffiliation", []string{"student", "member"}},
		{"bdupont", "schacDateOfBirth", []string{"20000722"}},
		{"bdupont", "supannListeRouge", []string{"TRUE"}},
		{"cbernard", "supannMailPerso", []string{"claire.bernard@laposte.example"}},
		{"eleroy", "cn", []string{"Émilie Leroy"}},
		{"eleroy", "supannRefId", []string{"{APOGEE}21500123", "{SIHAM}UM0034567"}},
		{"groux", "mail", nil},
		{"hfaux", "supannOIDCDateDeNaissance", []string{"1999-13-45"}},
	}
	for _, ck := range checks {
		if v := got[ids[ck.uid]].Attributes[ck.attr]; !slices.Equal(v, ck.want) {
			t.Errorf("%s: %s = %q, want %q", ck.uid, ck.attr, v, ck.want)
		}
	}
}

func TestListPartitionsAgree(t *testing.T) {
	// The fixtures have time-based entryUUIDs sharing a prefix; the
	// generated people have random ones, spread over every partition.
	var ldif strings.Builder
	ldif.WriteString(slapdtest.People + "\n")
	if err := slapdtest.GenerateSupann(&ldif, 300, 7); err != nil {
		t.Fatal(err)
	}
	s := slapdtest.Start(t, slapdtest.Options{LDIF: strings.NewReader(ldif.String())})

	var want []string
	for _, n := range []int{1, 2, 3, 4, 16} {
		c := newConnector(t, s, func(c *ldap.Config) {
			c.Partitions = n
			c.PageSize = 50 // several pages per partition
		})
		got := slices.Sorted(maps.Keys(listAll(t, c)))
		if len(got) != 308 {
			t.Errorf("partitions=%d: List() gave %d entries, want 308", n, len(got))
		}
		if want == nil {
			want = got
		} else if !slices.Equal(got, want) {
			t.Errorf("partitions=%d: List() gave another set of entries than partitions=1", n)
		}
		if ids := scanAll(t, c); !slices.Equal(ids, want) {
			t.Errorf("partitions=%d: ScanIDs() gave another set of ids than List()", n)
		}
	}
}

func TestListKeepsRequestedOperationalAttributes(t *testing.T) {
	s := startPeople(t, slapdtest.Options{})
	c := newConnector(t, s, func(c *ldap.Config) { c.Attributes = []string{"entryUUID", "uid"} })
	for id, e := range listAll(t, c) {
		if v := e.Attributes["entryUUID"]; !slices.Equal(v, []string{id}) {
			t.Errorf("%s: entryUUID attribute = %q, want it kept since it was asked for", e.Name, v)
		}
		if _, ok := e.Attributes["modifyTimestamp"]; ok {
			t.Errorf("%s: modifyTimestamp listed though not asked for", e.Name)
		}
	}
}

func TestListStops(t *testing.T) {
	var ldif strings.Builder
	if err := slapdtest.GenerateSupann(&ldif, 2000, 1); err != nil {
		t.Fatal(err)
	}
	s := slapdtest.Start(t, slapdtest.Options{LDIF: strings.NewReader(ldif.String())})
	errStop := errors.New("stop")

	tests := []struct {
		name       string
		partitions int
		stop       func(cancel context.CancelFunc) error // called at the third entry
		want       error
	}{
		{"fn error, one search", 1, func(context.CancelFunc) error { return errStop }, errStop},
		{"fn error, partitions", 4, func(context.CancelFunc) error { return errStop }, errStop},
		{"cancelled, one search", 1, func(cancel context.CancelFunc) error { cancel(); return nil }, context.Canceled},
		{"cancelled, partitions", 4, func(cancel context.CancelFunc) error { cancel(); return nil }, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newConnector(t, s, func(c *ldap.Config) { c.Partitions = tt.partitions; c.PageSize = 100 })
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			calls, stoppedAt := 0, 0
			err := c.List(ctx, func(connectors.Entry) error {
				calls++
				if calls == 3 {
					stoppedAt = calls
					return tt.stop(cancel)
				}
				return nil
			})
			if !errors.Is(err, tt.want) {
				t.Fatalf("List() = %v, want %v", err, tt.want)
			}
			if tt.want == errStop && calls != stoppedAt {
				t.Errorf("fn called %d times, want no call after its error", calls)
			}
			if calls >= 2000 {
				t.Errorf("fn called %d times: the listing did not stop", calls)
			}
		})
	}
}

// backdated returns the fixture people as last modified on 1 January 2020.
func backdated() string {
	return strings.ReplaceAll(slapdtest.People, "\nuid: ",
		"\nmodifyTimestamp: 20200101000000Z\nentryCSN: 20200101000000.000000Z#000000#000#000000\nuid: ")
}

func TestListChanged(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{LDIF: strings.NewReader(backdated())})
	ids := uuids(t, s, fixtureUIDs...)
	c := newConnector(t, s, nil)
	ctx := t.Context()

	changed := func(since connectors.Mark) (map[string]connectors.Entry, connectors.Mark) {
		t.Helper()
		got := map[string]connectors.Entry{}
		mark, err := c.ListChanged(ctx, since, func(e connectors.Entry) error {
			got[e.ExternalID] = e
			return nil
		})
		if err != nil {
			t.Fatalf("ListChanged(%v) = %v", since, err)
		}
		return got, mark
	}

	// A zero mark reads everything.
	all, mark := changed(connectors.Mark{})
	if len(all) != len(fixtureUIDs) {
		t.Fatalf("ListChanged(zero) gave %d entries, want %d", len(all), len(fixtureUIDs))
	}
	old := connectors.Mark{Time: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), CSN: "20200101000000.000000Z#000000#000#000000"}
	if !mark.Time.Equal(old.Time) || mark.CSN != old.CSN {
		t.Errorf("ListChanged(zero) mark = %+v, want %+v", mark, old)
	}

	// Nothing changed since 2024: nothing read, mark kept.
	since2024 := connectors.Mark{Time: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), CSN: "20240101000000.000000Z#000000#000#000000"}
	if got, mark := changed(since2024); len(got) != 0 || mark != since2024 {
		t.Errorf("ListChanged(2024) = %d entries, mark %+v; want none and the same mark", len(got), mark)
	}

	// A mark taken just before a change, in the same second or not,
	// reads the change: the overlap covers modifyTimestamp's resolution.
	before := connectors.Mark{Time: time.Now().UTC()}
	s.Replace(t, dnOf("amartin"), "mail", "alice.martin@etu.univ-test.fr")
	for _, since := range []connectors.Mark{since2024, before} {
		got, mark := changed(since)
		if len(got) != 1 {
			t.Fatalf("ListChanged(%v) gave %d entries, want amartin only", since.Time, len(got))
		}
		e := got[ids["amartin"]]
		if v := e.Attributes["mail"]; !slices.Equal(v, []string{"alice.martin@etu.univ-test.fr"}) {
			t.Errorf("changed amartin mail = %q", v)
		}
		wantTime := e.ModifiedAt
		if since.Time.After(wantTime) {
			wantTime = since.Time // modifyTimestamp has no fraction
		}
		if !mark.Time.Equal(wantTime) || mark.CSN != e.CSN {
			t.Errorf("ListChanged(%v) mark = %+v, want (%v, %s)", since.Time, mark, wantTime, e.CSN)
		}
		// Re-reading from the new mark gives the change again (the
		// consumer skips it as unchanged), never loses it.
		if again, _ := changed(mark); len(again) != 1 {
			t.Errorf("ListChanged(new mark) gave %d entries, want amartin again", len(again))
		}
	}
}

func TestScanIDs(t *testing.T) {
	tests := []struct {
		presence string
	}{{ldap.PresenceScan}, {ldap.PresenceSyncrepl}}
	for _, tt := range tests {
		t.Run(tt.presence, func(t *testing.T) {
			s := startPeople(t, slapdtest.Options{Syncprov: true})
			ids := uuids(t, s, fixtureUIDs...)
			c := newConnector(t, s, func(c *ldap.Config) { c.Presence = tt.presence })

			want := slices.Sorted(maps.Values(ids))
			if got := scanAll(t, c); !slices.Equal(got, want) {
				t.Fatalf("ScanIDs() = %q, want %q", got, want)
			}
			s.Delete(t, dnOf("groux"))
			want = slices.DeleteFunc(want, func(id string) bool { return id == ids["groux"] })
			if got := scanAll(t, c); !slices.Equal(got, want) {
				t.Errorf("after deleting groux, ScanIDs() = %q, want %q", got, want)
			}
		})
	}
}

func TestRenamedEntryKeepsItsID(t *testing.T) {
	s := startPeople(t, slapdtest.Options{})
	id := s.EntryUUID(t, dnOf("amartin"))
	c := newConnector(t, s, nil)

	s.Rename(t, dnOf("amartin"), "uid=alice.martin")
	got := listAll(t, c)
	e, ok := got[id]
	if !ok {
		t.Fatalf("renamed entry %s not listed under its entryUUID", id)
	}
	if e.Name != dnOf("alice.martin") || !slices.Equal(e.Attributes["uid"], []string{"alice.martin"}) {
		t.Errorf("renamed entry = %s uid %q, want %s", e.Name, e.Attributes["uid"], dnOf("alice.martin"))
	}
	if len(got) != len(fixtureUIDs) {
		t.Errorf("List() gave %d entries after a rename, want %d", len(got), len(fixtureUIDs))
	}
}

func TestAuthenticate(t *testing.T) {
	s := startPeople(t, slapdtest.Options{})
	s.Add(t, `dn: uid=twin1,`+slapdtest.BaseDN+`
objectClass: inetOrgPerson
objectClass: supannPerson
uid: twin1
cn: Twin One
sn: One
mail: twins@univ-test.fr
userPassword: twin-pw

dn: uid=twin2,`+slapdtest.BaseDN+`
objectClass: inetOrgPerson
objectClass: supannPerson
uid: twin2
cn: Twin Two
sn: Two
mail: twins@univ-test.fr
userPassword: twin-pw
`)
	ids := uuids(t, s, "amartin", "cbernard")
	all := newConnector(t, s, nil)
	students := newConnector(t, s, func(c *ldap.Config) { c.UserFilter = "(eduPersonPrimaryAffiliation=student)" })

	tests := []struct {
		name            string
		c               *ldap.Connector
		login, password string
		want            string // uid of the entry, or "" for ErrInvalidCredentials
	}{
		{"uid", all, "amartin", slapdtest.Password("amartin"), "amartin"},
		{"mail", all, "alice.martin@univ-test.fr", slapdtest.Password("amartin"), "amartin"},
		{"mail in capitals", all, "Alice.Martin@UNIV-TEST.FR", slapdtest.Password("amartin"), "amartin"},
		{"employee", all, "cbernard", slapdtest.Password("cbernard"), "cbernard"},
		{"wrong password", all, "amartin", "wrong", ""},
		{"another's password", all, "amartin", slapdtest.Password("cbernard"), ""},
		{"unknown login", all, "nobody", slapdtest.Password("amartin"), ""},
		{"empty password", all, "amartin", "", ""},
		{"empty login", all, "", slapdtest.Password("amartin"), ""},
		{"filter injection", all, "*)(uid=*", slapdtest.Password("amartin"), ""},
		{"filter injection closing", all, "amartin)(|(uid=*", slapdtest.Password("amartin"), ""},
		{"wildcard", all, "*", slapdtest.Password("amartin"), ""},
		{"wildcard prefix", all, "amar*", slapdtest.Password("amartin"), ""},
		{"login shared by two entries", all, "twins@univ-test.fr", "twin-pw", ""},
		{"user_filter admits", students, "amartin", slapdtest.Password("amartin"), "amartin"},
		{"user_filter refuses", students, "cbernard", slapdtest.Password("cbernard"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := tt.c.Authenticate(t.Context(), tt.login, tt.password)
			if tt.want == "" {
				if !errors.Is(err, connectors.ErrInvalidCredentials) {
					t.Fatalf("Authenticate() = %v, %v; want ErrInvalidCredentials", e.Name, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Authenticate() = %v", err)
			}
			if e.ExternalID != ids[tt.want] || e.Name != dnOf(tt.want) {
				t.Errorf("Authenticate() = %s (%s), want %s (%s)", e.Name, e.ExternalID, dnOf(tt.want), ids[tt.want])
			}
			if len(e.Attributes["mail"]) != 1 || len(e.Attributes["sn"]) != 1 {
				t.Errorf("Authenticate() entry attributes = %v, want the mapping's", e.Attributes)
			}
		})
	}
}

func TestChangePassword(t *testing.T) {
	s := startPeople(t, slapdtest.Options{})
	ids := uuids(t, s, "bdupont", "dpetit")
	c := newConnector(t, s, nil)
	ctx := t.Context()

	authOK := func(uid, password string) bool {
		t.Helper()
		_, err := c.Authenticate(ctx, uid, password)
		if err != nil && !errors.Is(err, connectors.ErrInvalidCredentials) {
			t.Fatalf("Authenticate(%s) = %v", uid, err)
		}
		return err == nil
	}

	// By the service account.
	if err := c.ChangePassword(ctx, ids["bdupont"], "", "Reset-Pw-1"); err != nil {
		t.Fatalf("ChangePassword(admin) = %v", err)
	}
	if !authOK("bdupont", "Reset-Pw-1") || authOK("bdupont", slapdtest.Password("bdupont")) {
		t.Errorf("after an admin reset, the new password should work and the old one fail")
	}

	// By the person, with a wrong old password: refused, nothing changed.
	err := c.ChangePassword(ctx, ids["dpetit"], "not-my-password", "Self-Pw-2")
	if !errors.Is(err, connectors.ErrInvalidCredentials) {
		t.Fatalf("ChangePassword(wrong old) = %v, want ErrInvalidCredentials", err)
	}
	if !authOK("dpetit", slapdtest.Password("dpetit")) || authOK("dpetit", "Self-Pw-2") {
		t.Errorf("a refused change should leave the password as it was")
	}

	// By the person, with the right old password.
	if err := c.ChangePassword(ctx, ids["dpetit"], slapdtest.Password("dpetit"), "Self-Pw-2"); err != nil {
		t.Fatalf("ChangePassword(self) = %v", err)
	}
	if !authOK("david.petit@univ-test.fr", "Self-Pw-2") || authOK("dpetit", slapdtest.Password("dpetit")) {
		t.Errorf("after a self change, the new password should work and the old one fail")
	}

	// Errors that are not about credentials.
	for _, tt := range []struct{ name, id, old, new string }{
		{"unknown id", "00000000-0000-0000-0000-000000000000", "", "x"},
		{"id with filter characters", "*", "", "x"},
		{"empty new password", ids["dpetit"], "", ""},
	} {
		err := c.ChangePassword(ctx, tt.id, tt.old, tt.new)
		if err == nil || errors.Is(err, connectors.ErrInvalidCredentials) {
			t.Errorf("%s: ChangePassword() = %v, want a non-credential error", tt.name, err)
		}
	}
}

// replica is what a consumer of a change feed holds: entries by id.
type replica map[string]connectors.Entry

// apply applies one call to Changes, as a consumer would.
func (r replica) apply(t *testing.T, c *ldap.Connector, cookie []byte) (connectors.ChangeResult, []connectors.Change) {
	t.Helper()
	var changes []connectors.Change
	seen := map[string]bool{}
	res, err := c.Changes(t.Context(), cookie, func(ch connectors.Change) error {
		changes = append(changes, ch)
		seen[ch.ExternalID] = true
		switch ch.Kind {
		case connectors.ChangeUpsert:
			r[ch.ExternalID] = ch.Entry
		case connectors.ChangeDelete:
			delete(r, ch.ExternalID)
		case connectors.ChangePresent:
			// Kept as is; a new or changed entry also comes as an
			// upsert, before or after.
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Changes() = %v", err)
	}
	if res.Complete {
		for id := range r {
			if !seen[id] {
				delete(r, id)
			}
		}
	}
	return res, changes
}

func kinds(changes []connectors.Change) map[connectors.ChangeKind]int {
	n := map[connectors.ChangeKind]int{}
	for _, ch := range changes {
		n[ch.Kind]++
	}
	return n
}

func TestChanges(t *testing.T) {
	tests := []struct {
		name       string
		sessionLog int
		// wantDelete: the deletion comes as ChangeDelete (session
		// log), else through a complete present phase.
		wantDelete bool
	}{
		{"present phase", 0, false},
		{"session log", 100, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startPeople(t, slapdtest.Options{Syncprov: true, SessionLog: tt.sessionLog})
			ids := uuids(t, s, fixtureUIDs...)
			c := newConnector(t, s, nil)
			r := replica{}

			// First refresh: everything, complete.
			res, changes := r.apply(t, c, nil)
			if k := kinds(changes); k[connectors.ChangeUpsert] != len(fixtureUIDs) || len(k) != 1 {
				t.Fatalf("first Changes() kinds = %v, want %d upserts", k, len(fixtureUIDs))
			}
			if !res.Complete || len(res.Cookie) == 0 {
				t.Fatalf("first Changes() = %+v, want complete with a cookie", res)
			}
			amartin := r[ids["amartin"]]
			if amartin.Name != dnOf("amartin") || !slices.Equal(amartin.Attributes["mail"], []string{"alice.martin@univ-test.fr"}) || amartin.CSN == "" {
				t.Errorf("upserted amartin = %+v", amartin)
			}

			// Nothing changed: no change, same cookie.
			cookie := res.Cookie
			res, changes = r.apply(t, c, cookie)
			if len(changes) != 0 || res.Complete || string(res.Cookie) != string(cookie) {
				t.Errorf("Changes() without change = %+v, %d changes; want none and the same cookie", res, len(changes))
			}

			// A deletion, a modification, an addition.
			s.Delete(t, dnOf("groux"))
			s.Replace(t, dnOf("amartin"), "mail", "alice.martin@etu.univ-test.fr")
			s.Add(t, `dn: `+dnOf("inouveau")+`
objectClass: inetOrgPerson
objectClass: supannPerson
uid: inouveau
cn: Ines Nouveau
sn: Nouveau
mail: ines.nouveau@univ-test.fr
`)
			res, changes = r.apply(t, c, cookie)
			if string(res.Cookie) == string(cookie) || len(res.Cookie) == 0 {
				t.Errorf("Changes() after changes kept cookie %q", res.Cookie)
			}
			k := kinds(changes)
			if k[connectors.ChangeUpsert] != 2 {
				t.Errorf("Changes() upserts = %d, want 2 (amartin, inouveau): %+v", k[connectors.ChangeUpsert], changes)
			}
			if tt.wantDelete {
				if k[connectors.ChangeDelete] != 1 || res.Complete {
					t.Errorf("Changes() = %v, complete %v; want groux as a ChangeDelete", k, res.Complete)
				}
			} else if !res.Complete || k[connectors.ChangePresent] < len(fixtureUIDs)-2 {
				t.Errorf("Changes() = %v, complete %v; want a complete present phase", k, res.Complete)
			}

			// Whatever the way, the replica now matches the directory.
			want := map[string]string{}
			for id, e := range listAll(t, c) {
				want[id] = e.Attributes["mail"][0]
			}
			got := map[string]string{}
			for id, e := range r {
				got[id] = e.Attributes["mail"][0]
			}
			if !maps.Equal(got, want) {
				t.Errorf("replica = %v\nwant %v", got, want)
			}
			if _, ok := r[ids["groux"]]; ok {
				t.Errorf("replica still holds deleted groux")
			}
		})
	}
}

func TestSyncreplNeedsSyncprov(t *testing.T) {
	s := startPeople(t, slapdtest.Options{})
	c := newConnector(t, s, func(c *ldap.Config) { c.Presence = ldap.PresenceSyncrepl })
	_, err := c.Changes(t.Context(), nil, func(connectors.Change) error { return nil })
	if !errors.Is(err, ldap.ErrNoSyncrepl) || !strings.Contains(err.Error(), "syncprov") {
		t.Errorf("Changes() = %v, want ErrNoSyncrepl", err)
	}
	err = c.ScanIDs(t.Context(), func(string) error { return nil })
	if !errors.Is(err, ldap.ErrNoSyncrepl) {
		t.Errorf("ScanIDs() = %v, want ErrNoSyncrepl", err)
	}
}

func TestTLS(t *testing.T) {
	s := startPeople(t, slapdtest.Options{TLS: true})
	tests := []struct {
		name    string
		modify  func(*ldap.Config)
		wantErr string
	}{
		{"ldaps", func(c *ldap.Config) { c.URL = s.LDAPSURL; c.CAFile = s.CAFile }, ""},
		{"StartTLS", func(c *ldap.Config) { c.StartTLS = true; c.CAFile = s.CAFile }, ""},
		{"ldaps, unverified", func(c *ldap.Config) { c.URL = s.LDAPSURL; c.InsecureSkipVerify = true }, ""},
		{"ldaps, unknown CA", func(c *ldap.Config) { c.URL = s.LDAPSURL }, "certificate"},
		{"StartTLS, unknown CA", func(c *ldap.Config) { c.StartTLS = true }, "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newConnector(t, s, tt.modify)
			_, err := c.Authenticate(t.Context(), "amartin", slapdtest.Password("amartin"))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Authenticate() = %v", err)
				}
				if n := len(scanAll(t, c)); n != len(fixtureUIDs) {
					t.Errorf("ScanIDs() gave %d ids", n)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Authenticate() = %v, want an error about %q", err, tt.wantErr)
			}
			t.Logf("Authenticate() = %v", err)
		})
	}
}

func TestConnectionErrors(t *testing.T) {
	s := startPeople(t, slapdtest.Options{})
	const password = "Wr0ng-S3cret"
	tests := []struct {
		name   string
		modify func(*ldap.Config)
		want   string
	}{
		{"wrong service password", func(c *ldap.Config) { c.BindPassword = password }, "Invalid Credentials"},
		{"missing base", func(c *ldap.Config) { c.BaseDN = "ou=nowhere,dc=univ-test,dc=fr" }, "No Such Object"},
		{"nobody listening", func(c *ldap.Config) { c.URL = "ldap://127.0.0.1:1"; c.BindPassword = password }, "connect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newConnector(t, s, tt.modify)
			err := c.List(t.Context(), func(connectors.Entry) error { return nil })
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("List() = %v, want an error about %q", err, tt.want)
			}
			t.Logf("List() = %v", err)
			if !strings.Contains(err.Error(), "ldap://127.0.0.1:") {
				t.Errorf("List() = %q, want the URL in the error", err)
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("List() = %q leaks the password", err)
			}
			_, err = c.Authenticate(t.Context(), "amartin", slapdtest.Password("amartin"))
			if err == nil || errors.Is(err, connectors.ErrInvalidCredentials) {
				t.Errorf("Authenticate() = %v, want a connector error, not ErrInvalidCredentials", err)
			}
		})
	}
}
