package push

import (
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/canonid/canonid/propagate"
)

// TestReconcile reconciles accounts with canonid's server, listed in pages
// of two: an account in sync, one whose User was changed behind canonid's
// back, one never written, one whose id was forgotten (found by
// externalId), a retired one never written; and a User canonid does not
// know. A dry run reports and changes nothing; a real run repairs, and a
// second pass finds nothing to do.
func TestReconcile(t *testing.T) {
	cfg := fastConfig()
	cfg.MaxResults = 2
	e := newEnv(t, cfg)
	tg := e.target()
	ctx := t.Context()

	inSync := account("acc-a", "anne", "Anne", "Arnaud", "anne@univ-test.fr")
	drifted := account("acc-b", "bruno", "Bruno", "Blanc", "bruno@univ-test.fr")
	missing := account("acc-c", "chloe", "Chloé", "Colin", "chloe@univ-test.fr")
	forgotten := account("acc-d", "david", "David", "Durand", "david@univ-test.fr")
	retired := account("acc-e", "emma", "Emma", "Etienne")
	retired.State = propagate.StateRetired

	remotes := map[string]propagate.Remote{}
	for _, a := range []propagate.Account{inSync, drifted, forgotten} {
		r, err := tg.Write(ctx, a, propagate.Remote{})
		if err != nil {
			t.Fatal(err)
		}
		r.Hash = "hash-" + a.ID
		remotes[a.ID] = r
	}
	forgottenID := remotes[forgotten.ID].ID
	delete(remotes, forgotten.ID)
	// Someone edits Bruno's User with canonid's credentials.
	status, doc := e.call(pushClient, http.MethodPatch, "/Users/"+remotes[drifted.ID].ID,
		`{"schemas":["`+patchURN+`"],"Operations":[{"op":"replace","path":"name.givenName","value":"Bob"},{"op":"replace","path":"active","value":false}]}`)
	if status != http.StatusOK {
		t.Fatalf("drift: %d %v", status, doc)
	}
	// The HR system provisions someone canonid does not push.
	status, doc = e.call(hrClient, http.MethodPost, "/Users",
		`{"schemas":["`+userURN+`"],"externalId":"hr-9","userName":"zorro","emails":[{"value":"zorro@hr.example","primary":true}]}`)
	if status != http.StatusCreated {
		t.Fatalf("HR create: %d %v", status, doc)
	}
	unknownID, _ := doc["id"].(string)

	want := []propagate.Account{inSync, drifted, missing, forgotten, retired}
	given := maps.Clone(remotes)
	e.seen()
	rep, err := tg.Reconcile(ctx, want, remotes, true)
	if err != nil {
		t.Fatal(err)
	}
	wantDrift := []Drift{
		{AccountID: "acc-a", RemoteID: remotes["acc-a"].ID, Action: ActionNone},
		{AccountID: "acc-b", RemoteID: remotes["acc-b"].ID, Action: ActionUpdate, Fields: []string{"name.givenName", "active"}},
		{AccountID: "acc-c", Action: ActionCreate},
		{AccountID: "acc-d", RemoteID: forgottenID, Action: ActionNone},
		{AccountID: "acc-e", Action: ActionNone},
	}
	checkDrift(t, "dry run", rep.Accounts, wantDrift)
	if !slices.Equal(rep.Unknown, []string{unknownID}) {
		t.Errorf("Unknown %v, want [%s]", rep.Unknown, unknownID)
	}
	if !maps.Equal(remotes, given) {
		t.Errorf("Reconcile changed the map it was given: %v", remotes)
	}
	if got := rep.Remotes["acc-d"]; got.ID != forgottenID {
		t.Errorf("dry run Remotes[acc-d] = %+v, want the id found by externalId", got)
	}
	pages := 0
	for _, r := range e.seen() {
		if !strings.HasPrefix(r, "GET ") {
			t.Errorf("dry run sent %s", r)
		}
		if r == "GET /Users" {
			pages++
		}
	}
	if pages != 2 { // four Users, two a page
		t.Errorf("the dry run read %d pages, want 2", pages)
	}
	if u := e.user(remotes["acc-b"].ID); u.str("name.givenName") != "Bob" {
		t.Errorf("dry run repaired Bruno: %v", u)
	}
	if got := e.search(`userName eq "chloe"`); len(got) != 0 {
		t.Errorf("dry run created Chloé: %v", got)
	}

	rep, err = tg.Reconcile(ctx, want, remotes, false)
	if err != nil {
		t.Fatal(err)
	}
	created := rep.Remotes["acc-c"].ID
	wantDrift[2].RemoteID = created
	checkDrift(t, "repair", rep.Accounts, wantDrift)
	if created == "" {
		t.Fatal("no User created for acc-c")
	}
	if u := e.user(created); u.str("userName") != "chloe" || u.str("externalId") != "acc-c" || !u.active() {
		t.Errorf("created User: %v", u)
	}
	if u := e.user(remotes["acc-b"].ID); u.str("name.givenName") != "Bruno" || !u.active() {
		t.Errorf("repaired User: %v", u)
	}
	if got := rep.Remotes["acc-b"]; got.ID != remotes["acc-b"].ID || got.Hash != "hash-acc-b" {
		t.Errorf("Remotes[acc-b] = %+v, want its id and hash kept", got)
	}
	if _, ok := rep.Remotes["acc-e"]; ok {
		t.Errorf("Remotes has the retired account never written: %+v", rep.Remotes["acc-e"])
	}
	if !slices.Equal(rep.Unknown, []string{unknownID}) {
		t.Errorf("Unknown %v, want [%s]", rep.Unknown, unknownID)
	}
	e.user(unknownID) // never deleted

	rep, err = tg.Reconcile(ctx, want, rep.Remotes, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range rep.Accounts {
		if d.Action != ActionNone {
			t.Errorf("after repair, %s: %s %v", d.AccountID, d.Action, d.Fields)
		}
	}
}

func checkDrift(t *testing.T, when string, got, want []Drift) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d entries, want %d: %+v", when, len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.AccountID != w.AccountID || g.RemoteID != w.RemoteID || g.Action != w.Action || !slices.Equal(g.Fields, w.Fields) {
			t.Errorf("%s: entry %d = %+v, want %+v", when, i, g, w)
		}
	}
}

// TestReconcileFake reconciles with a provider that keeps every address,
// over pages of two: a changed address set, a wrong primary, and a
// retired User still holding its login are found and repaired.
func TestReconcileFake(t *testing.T) {
	f := newFakeProvider(t)
	tg := f.target()
	ctx := t.Context()
	a := account("acc-a", "anne", "Anne", "Arnaud", "anne@univ-test.fr", "anne@perso.example")
	b := account("acc-b", "bruno", "Bruno", "Blanc", "bruno@univ-test.fr")
	c := account("acc-c", "chloe", "Chloé", "Colin", "chloe@univ-test.fr")
	remotes := map[string]propagate.Remote{}
	for _, x := range []propagate.Account{a, b, c} {
		r, err := tg.Write(ctx, x, propagate.Remote{})
		if err != nil {
			t.Fatal(err)
		}
		remotes[x.ID] = r
	}
	// Now: Anne's primary is her personal address, Bruno has a second
	// one, Chloé was merged and her retirement never delivered.
	a.Emails = []propagate.Email{{Address: "anne@perso.example", Primary: true}, {Address: "anne@univ-test.fr"}}
	b.Emails = append(b.Emails, propagate.Email{Address: "b.blanc@univ-test.fr"})
	c.State, c.Emails = propagate.StateRetired, nil

	want := []propagate.Account{a, b, c}
	rep, err := tg.Reconcile(ctx, want, remotes, false)
	if err != nil {
		t.Fatal(err)
	}
	checkDrift(t, "repair", rep.Accounts, []Drift{
		{AccountID: "acc-a", RemoteID: remotes["acc-a"].ID, Action: ActionUpdate, Fields: []string{"emails"}},
		{AccountID: "acc-b", RemoteID: remotes["acc-b"].ID, Action: ActionUpdate, Fields: []string{"emails"}},
		{AccountID: "acc-c", RemoteID: remotes["acc-c"].ID, Action: ActionUpdate, Fields: []string{"userName", "emails", "active"}},
	})
	if rep.Remotes["acc-c"].RetiredAt.IsZero() {
		t.Errorf("Remotes[acc-c] = %+v, want RetiredAt set", rep.Remotes["acc-c"])
	}
	users := f.snapshot()
	if got := users[remotes["acc-a"].ID].emails(); !slices.Equal(got, []string{"anne@perso.example", "anne@univ-test.fr"}) {
		t.Errorf("Anne's addresses %v", got)
	}
	if u := users[remotes["acc-c"].ID]; u.active() || u.str("userName") != Tombstone("acc-c") {
		t.Errorf("Chloé's User %v", u)
	}
	// In sync now; the time Chloé was retired is lost: her grace
	// starts now.
	tg.now = func() time.Time { return clock }
	lost := rep.Remotes
	lost["acc-c"] = propagate.Remote{ID: lost["acc-c"].ID}
	before := f.snapshot()
	rep, err = tg.Reconcile(ctx, want, lost, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range rep.Accounts {
		if d.Action != ActionNone {
			t.Errorf("after repair, %s: %s %v", d.AccountID, d.Action, d.Fields)
		}
	}
	if got := rep.Remotes["acc-c"].RetiredAt; !got.Equal(clock) {
		t.Errorf("Remotes[acc-c].RetiredAt = %s, want %s", got, clock)
	}
	if after := f.snapshot(); !reflect.DeepEqual(before, after) {
		t.Errorf("a reconciliation with nothing to repair changed the Users")
	}
}
