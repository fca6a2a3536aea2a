package ingest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/canonid/canonid/connectors"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/mapping"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
)

var ctx = context.Background()

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// fakeDir is an in-memory directory offering every listing capability.
type fakeDir struct {
	entries map[string]connectors.Entry
	clock   time.Time
}

func newFakeDir(es ...connectors.Entry) *fakeDir {
	d := &fakeDir{entries: map[string]connectors.Entry{}, clock: time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)}
	for _, e := range es {
		d.put(e)
	}
	return d
}

func (d *fakeDir) put(e connectors.Entry) {
	d.clock = d.clock.Add(time.Second)
	e.ModifiedAt = d.clock
	d.entries[e.ExternalID] = e
}

func (d *fakeDir) Name() string { return "campus" }

func (d *fakeDir) List(_ context.Context, fn func(connectors.Entry) error) error {
	for _, id := range slices.Sorted(maps.Keys(d.entries)) {
		if err := fn(d.entries[id]); err != nil {
			return err
		}
	}
	return nil
}

func (d *fakeDir) ListChanged(_ context.Context, since connectors.Mark, fn func(connectors.Entry) error) (connectors.Mark, error) {
	next := since
	for _, id := range slices.Sorted(maps.Keys(d.entries)) {
		e := d.entries[id]
		if e.ModifiedAt.Before(since.Time) {
			continue
		}
		if e.ModifiedAt.After(next.Time) {
			next.Time = e.ModifiedAt
		}
		if err := fn(e); err != nil {
			return since, err
		}
	}
	return next, nil
}

func (d *fakeDir) ScanIDs(_ context.Context, fn func(string) error) error {
	for id := range d.entries {
		if err := fn(id); err != nil {
			return err
		}
	}
	return nil
}

var (
	_ connectors.Lister            = (*fakeDir)(nil)
	_ connectors.IncrementalLister = (*fakeDir)(nil)
	_ connectors.PresenceScanner   = (*fakeDir)(nil)
)

func person(uuid, uid, given, sn, mail string, extra ...string) connectors.Entry {
	attrs := map[string][]string{"uid": {uid}, "givenName": {given}, "sn": {sn}}
	if mail != "" {
		attrs["mail"] = []string{mail}
	}
	for i := 0; i+1 < len(extra); i += 2 {
		attrs[extra[i]] = append(attrs[extra[i]], extra[i+1])
	}
	return connectors.Entry{ExternalID: uuid, Name: "uid=" + uid + ",ou=people,dc=univ-test,dc=fr", Attributes: attrs}
}

func newIngester(t testing.TB, st store.Store, cfg Config) *Ingester {
	t.Helper()
	spec, _ := mapping.Preset("supann")
	m, err := mapping.Compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return New(st, Source{Name: "ldap:campus", Mapping: m, Config: cfg, KeepName: true}, identity.DefaultPrecedence(), discard())
}

func sync(t *testing.T, in *Ingester, d *fakeDir, opts SyncOptions) SyncResult {
	t.Helper()
	// The directory's clock is the ingester's: marks follow its times.
	in.SetClock(func() time.Time { return d.clock })
	res, err := in.Sync(ctx, d, opts)
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	return res
}

func wantCounts(t *testing.T, got Summary, created, updated, unchanged, linked, gone, errs int) {
	t.Helper()
	if got.Created != created || got.Updated != updated || got.Unchanged != unchanged || got.Linked != linked || got.Gone != gone || len(got.Errors) != errs {
		t.Fatalf("summary = created %d updated %d unchanged %d linked %d gone %d errors %v; want %d %d %d %d %d %d errors",
			got.Created, got.Updated, got.Unchanged, got.Linked, got.Gone, got.Errors, created, updated, unchanged, linked, gone, errs)
	}
}

func accountOf(t *testing.T, st store.Store, externalID string) (identity.Account, []identity.Email, identity.Link) {
	t.Helper()
	var a identity.Account
	var es []identity.Email
	var l identity.Link
	if err := st.View(ctx, func(tx store.Tx) error {
		var err error
		if l, err = tx.Links().Get(ctx, "ldap:campus", externalID); err != nil {
			return err
		}
		if a, err = tx.Accounts().Get(ctx, l.AccountID); err != nil {
			return err
		}
		es, err = tx.Emails().ListByAccount(ctx, a.ID)
		return err
	}); err != nil {
		t.Fatalf("account of %s: %v", externalID, err)
	}
	return a, es, l
}

func outboxHead(t *testing.T, st store.Store) int64 {
	t.Helper()
	h, err := st.Outbox().Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestSyncLifecycle(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		d := newFakeDir(
			person("u1", "cmartin", "Camille", "Martin", "camille.martin@univ-test.fr",
				"supannEtuId", "21901234", "supannCodeINE", "0123456789a", "supannOIDCDateDeNaissance", "1999-04-12",
				"eduPersonAffiliation", "student", "eduPersonAffiliation", "member", "supannListeRouge", "TRUE"),
			person("u2", "fcavel", "Franck", "Cavel", "franck.cavel@univ-test.fr", "supannEmpId", "E42"),
			person("u3", "nomail", "No", "Mail", ""),
			person("u4", "baddate", "Bad", "Date", "bad.date@univ-test.fr", "schacDateOfBirth", "19991399"),
		)
		in := newIngester(t, st, Config{})
		res := sync(t, in, d, SyncOptions{Owner: "test"})
		wantCounts(t, res.Summary, 2, 0, 0, 0, 0, 2)
		if !res.Full {
			t.Fatal("the first sync is not full")
		}
		// Errors name the entry's DN, the field and the reason.
		byDN := map[string]EntryError{}
		for _, e := range res.Errors {
			byDN[e.DN] = e
		}
		if e := byDN["uid=nomail,ou=people,dc=univ-test,dc=fr"]; e.Field != mapping.FieldEmail {
			t.Errorf("missing mail error = %+v", e)
		}
		if e := byDN["uid=baddate,ou=people,dc=univ-test,dc=fr"]; e.Field != mapping.FieldBirthDate || e.Value != "19991399" {
			t.Errorf("bad date error = %+v", e)
		}
		a, es, l := accountOf(t, st, "u1")
		if a.Login != "cmartin" || a.GivenName != "Camille" || a.BirthDate != "1999-04-12" || a.Status != identity.StatusActive ||
			!slices.Equal(a.Attributes["ine"], []string{"0123456789A"}) || a.Provenance["family_name"] != "ldap:campus" ||
			a.Consents.DirectoryVisible == nil || *a.Consents.DirectoryVisible {
			t.Fatalf("account from u1 = %+v", a)
		}
		if len(es) != 1 || !es[0].Verified || !es[0].Primary || es[0].Address != "camille.martin@univ-test.fr" || es[0].Source != "ldap:campus" {
			t.Fatalf("emails = %+v", es)
		}
		if l.Attributes[snapName][0] != "uid=cmartin,ou=people,dc=univ-test,dc=fr" {
			t.Fatalf("link snapshot = %v", l.Attributes)
		}
		storetest.CheckInvariants(t, st)

		// Nothing changed: a full sync changes nothing and records only
		// its own connector.synced event.
		head := outboxHead(t, st)
		res = sync(t, in, d, SyncOptions{Owner: "test", Full: true})
		wantCounts(t, res.Summary, 0, 0, 2, 0, 0, 2)
		if got := outboxHead(t, st); got != head+1 {
			t.Fatalf("an unchanged full sync wrote %d events, want 1", got-head)
		}

		// A modification, picked up incrementally.
		e := d.entries["u2"]
		e.Attributes = maps.Clone(e.Attributes)
		e.Attributes["sn"] = []string{"Cavel-Durand"}
		d.put(e)
		res = sync(t, in, d, SyncOptions{Owner: "test"})
		if res.Full || res.Entries >= 4 {
			t.Fatalf("incremental sync read %d entries (full %v)", res.Entries, res.Full)
		}
		// The overlap re-reads the last entries: the broken one is
		// reported again, the others are unchanged.
		if res.Updated != 1 || res.Created != 0 || res.Gone != 0 || res.Updated+res.Unchanged+len(res.Errors) != res.Entries {
			t.Fatalf("incremental summary = %+v (entries %d)", res.Summary, res.Entries)
		}
		if a, _, _ := accountOf(t, st, "u2"); a.FamilyName != "Cavel-Durand" {
			t.Fatalf("family name after the change = %q", a.FamilyName)
		}

		// A rename keeps the account.
		before, _, _ := accountOf(t, st, "u1")
		e = d.entries["u1"]
		e.Name = "uid=cmartin,ou=alumni,dc=univ-test,dc=fr"
		d.put(e)
		res = sync(t, in, d, SyncOptions{Owner: "test"})
		after, _, l := accountOf(t, st, "u1")
		if after.ID != before.ID || l.Attributes[snapName][0] != e.Name || res.Updated != 1 {
			t.Fatalf("after rename: account %s (was %s), snapshot %v, summary %+v", after.ID, before.ID, l.Attributes[snapName], res.Summary)
		}

		// A deletion: the link is gone and the account suspended; its
		// return restores both.
		gone := d.entries["u2"]
		delete(d.entries, "u2")
		res = sync(t, in, d, SyncOptions{Owner: "test"})
		if res.Gone != 1 || !res.Scanned {
			t.Fatalf("deletion: %+v", res)
		}
		a, _, l = accountOf(t, st, "u2")
		if l.Status != identity.LinkGone || a.Status != identity.StatusSuspended {
			t.Fatalf("after deletion: link %s, account %s", l.Status, a.Status)
		}
		d.put(gone)
		res = sync(t, in, d, SyncOptions{Owner: "test"})
		a, _, l = accountOf(t, st, "u2")
		if l.Status != identity.LinkActive || a.Status != identity.StatusActive || res.Updated != 1 {
			t.Fatalf("after return: link %s, account %s, summary %+v", l.Status, a.Status, res.Summary)
		}
		storetest.CheckInvariants(t, st)
	})
}

func TestSyncCorrelation(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		// Accounts from an agency file: one with the personal address as
		// verified e-mail, one with an INE, two sharing a name and birth
		// date.
		mk := func(login, given, family, birth, mail string, attrs map[string][]string) string {
			a := identity.Account{Status: identity.StatusActive, Login: login, GivenName: given, FamilyName: family, BirthDate: birth,
				Attributes: attrs, Provenance: map[string]string{"given_name": "csv:ars", "family_name": "csv:ars"}}
			if err := st.Update(ctx, func(tx store.Tx) error {
				if err := tx.Accounts().Create(ctx, &a); err != nil {
					return err
				}
				if mail != "" {
					if err := tx.Emails().Add(ctx, &identity.Email{AccountID: a.ID, Address: mail, Verified: true, Primary: true, Source: "csv:ars"}); err != nil {
						return err
					}
				}
				if err := tx.Links().Create(ctx, &identity.Link{Source: "csv:ars", ExternalID: login, AccountID: a.ID}); err != nil {
					return err
				}
				return tx.Record(ctx, store.Event{Type: identity.EventAccountCreated, Actor: "test", AccountID: a.ID})
			}); err != nil {
				t.Fatal(err)
			}
			return a.ID
		}
		camille := mk("ars-1", "Camille", "Martin", "1999-04-12", "camille.m@perso.example", nil)
		ine := mk("ars-2", "Lea", "Petit", "", "", map[string][]string{"ine": {"0999999999X"}})
		mk("ars-3", "Jean", "Dupont", "1980-01-01", "", nil)
		mk("ars-4", "Jean", "Dupont", "1980-01-01", "", nil)

		d := newFakeDir(
			person("u1", "cmartin", "Camille", "Martin", "camille.martin@univ-test.fr", "supannMailPerso", "Camille.M@perso.example"),
			person("u2", "lpetit", "Léa", "Petit", "lea.petit@univ-test.fr", "supannCodeINE", "0999999999x"),
			person("u3", "jdupont", "Jean", "Dupont", "jean.dupont@univ-test.fr", "supannOIDCDateDeNaissance", "1980-01-01"),
			// Same personal address as u1: a second person (a sibling
			// sharing it), not linked to the account u1 took.
			person("u4", "amartin", "Alex", "Martin", "alex.martin@univ-test.fr", "supannMailPerso", "camille.m@perso.example"),
		)
		cfg := Config{Correlate: []CorrelateRule{Rule(identity.LookupEmail), {Key: identity.LookupRecoveryEmail, Auto: true},
			Rule(identity.LookupINE), Rule(identity.LookupNameBirthDate)}}
		in := newIngester(t, st, cfg)
		res := sync(t, in, d, SyncOptions{Owner: "test"})
		// u1 and u2 link; u3 matches two namesakes by a rule that only
		// suggests: a new account, suggested as their duplicate; u4 is new.
		wantCounts(t, res.Summary, 2, 0, 0, 2, 0, 0)
		if len(res.Suggestions) != 1 {
			t.Fatalf("suggestions = %+v", res.Suggestions)
		}
		if sg := res.Suggestions[0]; sg.DN != d.entries["u3"].Name || len(sg.Candidates) != 2 || sg.Candidates[0].By != identity.LookupNameBirthDate {
			t.Fatalf("suggestion = %+v", sg)
		}
		if a, _, _ := accountOf(t, st, "u3"); a.ID != res.Suggestions[0].AccountID {
			t.Fatalf("u3's account %s is not the suggested one", a.ID)
		}
		a, es, _ := accountOf(t, st, "u1")
		if a.ID != camille || a.Login != "cmartin" || a.Provenance["family_name"] != "ldap:campus" {
			t.Fatalf("u1 linked to %+v", a)
		}
		// The directory's address became the primary; the agency's stays
		// verified.
		slices.SortFunc(es, func(a, b identity.Email) int { return strings.Compare(a.Source, b.Source) })
		if len(es) != 2 || es[0].Address != "camille.m@perso.example" || es[0].Primary || !es[0].Verified ||
			es[1].Address != "camille.martin@univ-test.fr" || !es[1].Primary {
			t.Fatalf("emails after link = %+v", es)
		}
		if a, _, _ := accountOf(t, st, "u2"); a.ID != ine || a.GivenName != "Léa" {
			t.Fatalf("u2 linked to %+v", a)
		}
		if a, _, _ := accountOf(t, st, "u4"); a.ID == camille {
			t.Fatal("u4 was linked to the account u1 holds")
		}
		storetest.CheckInvariants(t, st)
	})
}

func TestSyncConflictsAndPolicies(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		d := newFakeDir(
			person("u1", "a", "Ann", "One", "shared@univ-test.fr"),
			person("u2", "b", "Bob", "Two", "shared@univ-test.fr"),
			person("u3", "c", "Cleo", "Three", "c@univ-test.fr"),
		)
		in := newIngester(t, st, Config{NewAccountStatus: identity.StatusPendingActivation, Correlate: []CorrelateRule{}})
		res := sync(t, in, d, SyncOptions{Owner: "test"})
		wantCounts(t, res.Summary, 2, 0, 0, 0, 0, 1)
		if e := res.Errors[0]; e.DN != d.entries["u2"].Name || e.Field != "email" || !strings.Contains(e.Reason, "another account") {
			t.Fatalf("shared address error = %+v", e)
		}
		if a, _, _ := accountOf(t, st, "u1"); a.Status != identity.StatusPendingActivation {
			t.Fatalf("new account status = %s", a.Status)
		}
		// Removing most entries looks like a wrong filter: refused.
		delete(d.entries, "u1")
		delete(d.entries, "u3")
		_, err := in.Sync(ctx, d, SyncOptions{Owner: "test", Full: true})
		if !errors.Is(err, ErrTooManyGone) {
			t.Fatalf("mass deletion: %v", err)
		}
		if _, _, l := accountOf(t, st, "u1"); l.Status != identity.LinkActive {
			t.Fatal("a refused run marked a link gone")
		}
		// Another process holding the lease stops the run.
		now := time.Now()
		if err := st.Update(ctx, func(tx store.Tx) error {
			_, err := tx.SyncStates().Acquire(ctx, "campus", "other-host", now, now.Add(time.Hour))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		var held *store.LeaseHeldError
		if _, err := in.Sync(ctx, d, SyncOptions{Owner: "test"}); !errors.As(err, &held) || held.Owner != "other-host" {
			t.Fatalf("sync under another's lease: %v", err)
		}
	})
}

func TestSyncDryRun(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		d := newFakeDir(
			person("u1", "a", "Ann", "One", "a@univ-test.fr"),
			person("u2", "b", "Bob", "Two", "b@univ-test.fr"),
		)
		in := newIngester(t, st, Config{})
		sync(t, in, d, SyncOptions{Owner: "test"})
		e := d.entries["u1"]
		e.Attributes = maps.Clone(e.Attributes)
		e.Attributes["sn"] = []string{"Uno"}
		d.put(e)
		d.put(person("u3", "c", "Cleo", "Three", "c@univ-test.fr"))
		delete(d.entries, "u2")
		head := outboxHead(t, st)
		var changes []Change
		res := sync(t, in, d, SyncOptions{Owner: "test", Full: true, DryRun: true, Diff: func(c Change) { changes = append(changes, c) }})
		wantCounts(t, res.Summary, 1, 1, 0, 0, 1, 0)
		if got := outboxHead(t, st); got != head {
			t.Fatalf("a dry run wrote %d events", got-head)
		}
		if a, _, _ := accountOf(t, st, "u1"); a.FamilyName != "One" {
			t.Fatal("a dry run changed an account")
		}
		var ops []string
		for _, c := range changes {
			ops = append(ops, c.Op)
		}
		slices.Sort(ops)
		if !slices.Equal(ops, []string{"create", "gone", "suspend", "update"}) {
			t.Fatalf("dry-run diff ops = %v", ops)
		}
		for _, c := range changes {
			if c.Op == "update" && (len(c.Fields) != 1 || c.Fields[0] != (FieldChange{"family_name", "One", "Uno"})) {
				t.Fatalf("update diff = %+v", c)
			}
		}
		st2, _ := in.State(ctx, "campus")
		if st2.LeaseOwner != "" {
			t.Fatal("a dry run took the lease")
		}
	})
}

func TestConfigValidate(t *testing.T) {
	bad := 2.0
	err := Config{Correlate: []CorrelateRule{Rule("email"), Rule("phone"), Rule("email")}, NewAccountStatus: "merged", OnGone: "delete", Org: "Bad Org", MaxGone: &bad}.Validate()
	for _, want := range []string{"correlate[1]", "correlate[2]", "new_account_status", "on_gone", "org:", "max_gone"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error %v lacks %q", err, want)
		}
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero config: %v", err)
	}
}

func TestSchedule(t *testing.T) {
	st := storetest.OpenSQLite(t)
	d := newFakeDir(person("u1", "a", "Ann", "One", "a@univ-test.fr"))
	in := newIngester(t, st, Config{})
	type outcome struct {
		res SyncResult
		err error
	}
	results := make(chan outcome)
	runCtx, cancel := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		in.Schedule(runCtx, d, time.Millisecond, 0, SyncOptions{Owner: "scheduler"}, func(res SyncResult, err error) {
			select {
			case results <- outcome{res, err}:
			case <-runCtx.Done():
			}
		})
	}()
	first := <-results
	if first.err != nil || !first.res.Full || first.res.Created != 1 {
		t.Fatalf("first scheduled run: %+v, %v", first.res, first.err)
	}
	second := <-results
	if second.err != nil || second.res.Full {
		t.Fatalf("second scheduled run: %+v, %v", second.res, second.err)
	}
	// Another process takes the lease: the scheduler's runs are skipped
	// with the holder named, and the loop goes on.
	now := time.Now()
	if err := st.Update(ctx, func(tx store.Tx) error {
		_, err := tx.SyncStates().Acquire(ctx, "campus", "other-host", now, now.Add(time.Hour))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for {
		o := <-results
		var held *store.LeaseHeldError
		if errors.As(o.err, &held) {
			if held.Owner != "other-host" {
				t.Fatalf("held by %q", held.Owner)
			}
			break
		}
	}
	cancel()
	<-stopped
}

// TestScheduleTwoReplicas: two schedulers of one connector on one store (two
// replicas) sync once per interval between them: the first to run keeps
// the turn, and when it stops the other takes over.
func TestScheduleTwoReplicas(t *testing.T) {
	st := storetest.OpenSQLite(t)
	d := newFakeDir(person("u1", "a", "Ann", "One", "a@univ-test.fr"))
	type run struct{ owner string }
	runs := make(chan run, 100)
	start := func(owner string) (stop func()) {
		in := newIngester(t, st, Config{})
		runCtx, cancel := context.WithCancel(ctx)
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			in.Schedule(runCtx, d, 200*time.Millisecond, 0, SyncOptions{Owner: owner}, func(_ SyncResult, err error) {
				if err == nil {
					select {
					case runs <- run{owner}:
					case <-runCtx.Done():
					}
				}
			})
		}()
		return func() { cancel(); <-stopped }
	}
	stopA := start("a")
	first := <-runs // a's first run, before b exists
	if first.owner != "a" {
		t.Fatalf("first run by %s", first.owner)
	}
	stopB := start("b")
	defer stopB()
	for range 8 {
		if r := <-runs; r.owner != "a" {
			t.Fatalf("b synced while a kept its turn")
		}
	}
	stopA()
	// Drain what a sent before stopping, then b takes over.
	deadline := time.After(10 * time.Second)
	for {
		select {
		case r := <-runs:
			if r.owner == "b" {
				return
			}
		case <-deadline:
			t.Fatal("b did not take over after a stopped")
		}
	}
}

// TestDeadOwnerLease: the lease of a process of this host that is gone is
// taken over at once; a live or remote holder's is not.
func TestDeadOwnerLease(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Skip("no host name")
	}
	gone := exec.Command(os.Args[0], "-test.run=^$")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	dead := host + ":" + strconv.Itoa(gone.Process.Pid)
	for owner, want := range map[string]bool{
		dead:                                          true,
		host + ":" + strconv.Itoa(os.Getppid()):       false, // alive
		host + ":" + strconv.Itoa(os.Getpid()):        false, // this process
		"elsewhere:" + strconv.Itoa(gone.Process.Pid): false,
		"no-pid": false,
	} {
		if got := deadOwner(owner); got != want {
			t.Errorf("deadOwner(%q) = %v, want %v", owner, got, want)
		}
	}

	st := storetest.OpenSQLite(t)
	d := newFakeDir(person("u1", "a", "Ann", "One", "a@univ-test.fr"))
	in := newIngester(t, st, Config{})
	now := time.Now()
	for _, holder := range []string{"elsewhere:1", dead} {
		if err := st.Update(ctx, func(tx store.Tx) error {
			if err := tx.SyncStates().Release(ctx, "campus", "elsewhere:1"); err != nil {
				return err
			}
			_, err := tx.SyncStates().Acquire(ctx, "campus", holder, now, now.Add(time.Hour))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		_, err := in.Sync(ctx, d, SyncOptions{Owner: "me:1"})
		var held *store.LeaseHeldError
		if holder == dead && err != nil {
			t.Fatalf("sync with the lease of a dead process: %v", err)
		}
		if holder != dead && !errors.As(err, &held) {
			t.Fatalf("sync with the lease of a remote process: %v, want it held", err)
		}
	}
}
