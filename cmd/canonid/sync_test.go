package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/canonid/canonid/connectors/ldap/slapdtest"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/ingest"
	"github.com/canonid/canonid/store"
)

// syncJSON runs canonid sync with --json and decodes its last line.
func syncJSON(t *testing.T, cfg string, args ...string) ingest.SyncResult {
	t.Helper()
	r := mustRun(t, append([]string{"sync", "--config", cfg, "--connector", "campus", "--json"}, args...)...)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	var res ingest.SyncResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("sync --json last line %q: %v", lines[len(lines)-1], err)
	}
	return res
}

// campusConfig writes a configuration with the connector campus on s; extra
// ends the connector's entry.
func campusConfig(t *testing.T, s *slapdtest.Server, top, extra string) string {
	return writeConfig(t, fmt.Sprintf(`%s
connectors:
  - name: campus
    type: ldap
    url: %s
    bind_dn: %s
    bind_password: %s
    base_dn: %s
    filter: (objectClass=supannPerson)
%s`, top, s.URL, s.AdminDN, s.AdminPassword, s.BaseDN, extra))
}

func accountByLink(t *testing.T, st store.Store, externalID string) (identity.Account, identity.Link) {
	t.Helper()
	var a identity.Account
	var l identity.Link
	if err := st.View(t.Context(), func(tx store.Tx) error {
		var err error
		if l, err = tx.Links().Get(t.Context(), "ldap:campus", externalID); err != nil {
			return err
		}
		a, err = tx.Accounts().Get(t.Context(), l.AccountID)
		return err
	}); err != nil {
		t.Fatalf("account linked to %s: %v", externalID, err)
	}
	return a, l
}

// TestSyncCampusDirectory runs canonid sync against a real slapd holding
// SupAnn people: dry run, full sync, a change picked up incrementally, a
// rename, a deletion, and the entries in error reported with their DN.
func TestSyncCampusDirectory(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{LDIF: strings.NewReader(slapdtest.People)})
	cfg := campusConfig(t, s, "orgs:\n  - {id: univ-test, name: Université Test}", "    mapping: supann\n    org: univ-test\n    scan_every: 1ns\n")
	st := openTestStore(t, cfg)
	dn := func(uid string) string { return "uid=" + uid + "," + s.BaseDN }

	// A dry run reports and writes nothing.
	res := syncJSON(t, cfg, "--dry-run")
	if res.Created != 6 || len(res.Errors) != 2 || !res.DryRun {
		t.Fatalf("dry run: %+v", res)
	}
	if head, _ := st.Outbox().Head(t.Context()); head != 0 {
		t.Fatalf("a dry run wrote %d events", head)
	}

	// The first sync is full: six people, two entries in error.
	res = syncJSON(t, cfg)
	if !res.Full || res.Created != 6 || res.Updated != 0 || len(res.Errors) != 2 {
		t.Fatalf("first sync: %+v", res)
	}
	errs := map[string]ingest.EntryError{}
	for _, e := range res.Errors {
		errs[e.DN] = e
	}
	if e := errs[dn("groux")]; e.Field != "email" {
		t.Errorf("entry without mail: %+v", e)
	}
	if e := errs[dn("hfaux")]; e.Field != "birth_date" || e.Value == "" {
		t.Errorf("entry with a bad date: %+v", e)
	}
	alice, link := accountByLink(t, st, s.EntryUUID(t, dn("amartin")))
	if alice.Login != "amartin" || alice.BirthDate != "2001-03-14" || link.Attributes["_name"][0] != dn("amartin") ||
		alice.Attributes["ine"][0] != "0912345678A" || alice.Status != identity.StatusActive {
		t.Fatalf("amartin's account: %+v", alice)
	}
	if _, err := getMembership(t, st, "univ-test", alice.ID); err != nil {
		t.Fatalf("membership: %v", err)
	}

	// A change is picked up by the next, incremental, sync.
	s.Replace(t, dn("amartin"), "sn", "Martin-Leroux")
	res = syncJSON(t, cfg)
	if res.Full || res.Updated != 1 || res.Created != 0 {
		t.Fatalf("incremental sync after a change: %+v", res)
	}
	if a, _ := accountByLink(t, st, s.EntryUUID(t, dn("amartin"))); a.FamilyName != "Martin-Leroux" || a.ID != alice.ID {
		t.Fatalf("after the change: %+v", a)
	}

	// A renamed entry keeps its account (links are keyed by entryUUID).
	cbUUID := s.EntryUUID(t, dn("cbernard"))
	before, _ := accountByLink(t, st, cbUUID)
	s.Rename(t, dn("cbernard"), "uid=cbernard2")
	res = syncJSON(t, cfg)
	after, link := accountByLink(t, st, cbUUID)
	if after.ID != before.ID || link.Attributes["_name"][0] != dn("cbernard2") || after.Login != "cbernard2" || res.Created != 0 {
		t.Fatalf("after the rename: account %s (was %s), DN %v, login %q, %+v", after.ID, before.ID, link.Attributes["_name"], after.Login, res.Summary)
	}

	// A deleted entry is noticed by the presence scan: its link is gone,
	// its account suspended.
	dpUUID := s.EntryUUID(t, dn("dpetit"))
	s.Delete(t, dn("dpetit"))
	res = syncJSON(t, cfg)
	if res.Gone != 1 || !res.Scanned {
		t.Fatalf("sync after a deletion: %+v", res)
	}
	if a, l := accountByLink(t, st, dpUUID); l.Status != identity.LinkGone || a.Status != identity.StatusSuspended {
		t.Fatalf("after the deletion: link %s, account %s", l.Status, a.Status)
	}

	// A full sync now finds everything as it is.
	res = syncJSON(t, cfg, "--full")
	if !res.Full || res.Unchanged != 5 || res.Updated+res.Created+res.Gone != 0 || len(res.Errors) != 2 {
		t.Fatalf("full resync: %+v", res)
	}
	storeInvariants(t, st)

	// The text summary.
	r := mustRun(t, "sync", "--config", cfg, "--connector", "campus")
	if !strings.Contains(r.stdout, "campus: incremental sync of") || !strings.Contains(r.stdout, "error: "+dn("groux")+": email") {
		t.Fatalf("text summary:\n%s", r.stdout)
	}
}

func TestSyncErrors(t *testing.T) {
	cfg := writeConfig(t, "")
	r := runCLI(t, "sync", "--config", cfg, "--connector", "campus")
	if r.code == 0 || !strings.Contains(r.stderr, `no connector "campus"`) {
		t.Fatalf("unknown connector: exit %d, %s", r.code, r.stderr)
	}
	r = runCLI(t, "sync", "--config", cfg)
	if r.code == 0 || !strings.Contains(r.stderr, "connector") {
		t.Fatalf("no --connector: exit %d, %s", r.code, r.stderr)
	}
	bad := writeConfig(t, `connectors:
  - name: Campus
    type: ldap
    url: http://x
    mapping: {given_name: {from: [givenName], transforms: [dat]}}
    correlate: [phone]
`)
	r = runCLI(t, "sync", "--config", bad, "--connector", "Campus")
	for _, want := range []string{"connectors[0].name", "connectors[0].url", "connectors[0].base_dn", "connectors[0].mapping", "connectors[0].correlate[0]"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("bad connector config: stderr lacks %q:\n%s", want, r.stderr)
		}
	}
}

func getMembership(t *testing.T, st store.Store, org, account string) (identity.Membership, error) {
	var m identity.Membership
	err := st.View(t.Context(), func(tx store.Tx) error {
		var err error
		m, err = tx.Memberships().Get(t.Context(), org, account)
		return err
	})
	return m, err
}

func storeInvariants(t *testing.T, st store.Store) {
	t.Helper()
	if err := st.View(t.Context(), func(tx store.Tx) error {
		snap, err := tx.Snapshot(t.Context())
		if err != nil {
			return err
		}
		return identity.CheckInvariants(snap)
	}); err != nil {
		t.Fatalf("invariants: %v", err)
	}
}

// TestServeSchedulesSyncs checks that serve runs the syncs of a connector
// with an interval, and stops them when it stops.
func TestServeSchedulesSyncs(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{LDIF: strings.NewReader(slapdtest.People)})
	cfg, err := loadConfig(campusConfig(t, s, "listen: 127.0.0.1:0", "    interval: 1h\n"), true)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	type result struct {
		connector string
		res       ingest.SyncResult
		err       error
	}
	results := make(chan result, 4)
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, cfg, serveOptions{Version: "test", SyncDone: func(c string, res ingest.SyncResult, err error) {
			results <- result{c, res, err}
		}}, io.Discard)
	}()
	select {
	case r := <-results:
		if r.err != nil || r.connector != "campus" || !r.res.Full || r.res.Created != 6 {
			t.Fatalf("first scheduled sync: %s %+v %v", r.connector, r.res, r.err)
		}
	case err := <-done:
		t.Fatalf("serve returned: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve after cancel: %v", err)
	}
}
