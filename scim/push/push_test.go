package push

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/canonid/canonid/propagate"
)

// TestCreateAndPatch creates a User, then updates it with PATCH: the
// server holds the account's values each time, and the target read the
// service provider config once.
func TestCreateAndPatch(t *testing.T) {
	e := newEnv(t, fastConfig())
	tg := e.target()
	ctx := t.Context()

	jean := account("acc-jean", "jean.dupont", "Jean", "Dupont", "jean.dupont@univ-test.fr")
	jean.Phone = "+33 4 67 00 00 01"
	jean.DisplayName = "Jean D."
	r, err := tg.Write(ctx, jean, propagate.Remote{})
	if err != nil {
		t.Fatal(err)
	}
	if r.ID == "" || r.Hash != "" || !r.RetiredAt.IsZero() {
		t.Fatalf("Write returned %+v, want an id only", r)
	}
	if got, want := e.seen(), []string{"POST /Users"}; !slices.Equal(got, want) {
		t.Errorf("requests %v, want %v", got, want)
	}
	u := e.user(r.ID)
	if u.str("userName") != "jean.dupont" || u.str("externalId") != "acc-jean" || u.str("name.givenName") != "Jean" ||
		u.str("name.familyName") != "Dupont" || u.str("displayName") != "Jean D." || !u.active() ||
		!slices.Equal(u.emails(), []string{"jean.dupont@univ-test.fr"}) {
		t.Errorf("created User: %v", u)
	}
	if ph, _ := u["phoneNumbers"].([]any); len(ph) != 1 || ph[0].(map[string]any)["value"] != "+33 4 67 00 00 01" {
		t.Errorf("phoneNumbers %v", u["phoneNumbers"])
	}

	// The person changes name, address, and drops the display name.
	jean.GivenName, jean.DisplayName = "Jean-Marc", ""
	jean.Emails = []propagate.Email{{Address: "jm.dupont@univ-test.fr", Primary: true}}
	r2, err := tg.Write(ctx, jean, r)
	if err != nil {
		t.Fatal(err)
	}
	if r2.ID != r.ID {
		t.Errorf("update moved the User from %s to %s", r.ID, r2.ID)
	}
	// The first update reads the provider's features.
	if got, want := e.seen(), []string{"GET /ServiceProviderConfig", "PATCH /Users/" + r.ID}; !slices.Equal(got, want) {
		t.Errorf("requests %v, want %v", got, want)
	}
	u = e.user(r.ID)
	if u.str("name.givenName") != "Jean-Marc" || u.str("displayName") != "" || !slices.Equal(u.emails(), []string{"jm.dupont@univ-test.fr"}) {
		t.Errorf("patched User: %v", u)
	}

	// Suspended: inactive, values kept.
	jean.State = propagate.StateInactive
	if _, err := tg.Write(ctx, jean, r2); err != nil {
		t.Fatal(err)
	}
	u = e.user(r.ID)
	if u.active() || u.str("userName") != "jean.dupont" || !slices.Equal(u.emails(), []string{"jm.dupont@univ-test.fr"}) {
		t.Errorf("inactive User: %v", u)
	}
	// And back.
	jean.State = propagate.StateActive
	if _, err := tg.Write(ctx, jean, r2); err != nil {
		t.Fatal(err)
	}
	if u = e.user(r.ID); !u.active() {
		t.Errorf("reactivated User: %v", u)
	}
}

// TestPutFallback writes to a provider whose ServiceProviderConfig says
// PATCH is not supported: updates are PUTs of the whole User.
func TestPutFallback(t *testing.T) {
	e := newEnv(t, fastConfig())
	e.noPatch = true
	tg := e.target()
	ctx := t.Context()

	zoe := account("acc-zoe", "zoe.martin", "Zoé", "Martin", "zoe.martin@univ-test.fr")
	zoe.DisplayName = "Zoé M."
	r, err := tg.Write(ctx, zoe, propagate.Remote{})
	if err != nil {
		t.Fatal(err)
	}
	zoe.FamilyName, zoe.DisplayName = "Martin-Roux", ""
	if _, err := tg.Write(ctx, zoe, r); err != nil {
		t.Fatal(err)
	}
	if got, want := e.seen(), []string{"POST /Users", "GET /ServiceProviderConfig", "PUT /Users/" + r.ID}; !slices.Equal(got, want) {
		t.Errorf("requests %v, want %v", got, want)
	}
	u := e.user(r.ID)
	if u.str("name.familyName") != "Martin-Roux" || u.str("name.givenName") != "Zoé" || u.str("displayName") != "" ||
		u.str("externalId") != "acc-zoe" || !slices.Equal(u.emails(), []string{"zoe.martin@univ-test.fr"}) {
		t.Errorf("User after PUT: %v", u)
	}
}

// TestPatchRefusedFallsBack: a provider that says it supports PATCH but
// answers 501 gets a PUT, at once and from then on.
func TestPatchRefusedFallsBack(t *testing.T) {
	e := newEnv(t, fastConfig())
	tg := e.target()
	ctx := t.Context()
	ali := account("acc-ali", "ali.dupond", "Ali", "Dupond", "ali.dupond@univ-test.fr")
	r, err := tg.Write(ctx, ali, propagate.Remote{})
	if err != nil {
		t.Fatal(err)
	}
	e.seen()
	e.mu.Lock()
	e.refusePatch = true // PATCH answers 501; the config still says yes
	e.mu.Unlock()
	ali.GivenName = "Alix"
	if _, err := tg.Write(ctx, ali, r); err != nil {
		t.Fatal(err)
	}
	ali.GivenName = "Alice"
	if _, err := tg.Write(ctx, ali, r); err != nil {
		t.Fatal(err)
	}
	want := []string{"GET /ServiceProviderConfig", "PATCH /Users/" + r.ID, "PUT /Users/" + r.ID, "PUT /Users/" + r.ID}
	if got := e.seen(); !slices.Equal(got, want) {
		t.Errorf("requests %v, want %v", got, want)
	}
	if u := e.user(r.ID); u.str("name.givenName") != "Alice" {
		t.Errorf("givenName %q, want Alice", u.str("name.givenName"))
	}
}

// TestAdopt: the provider holds the User already. Write's POST answers
// 409 and the User is found and adopted, whoever made it.
func TestAdopt(t *testing.T) {
	e := newEnv(t, fastConfig())
	tg := e.target()
	ctx := t.Context()

	t.Run("made by another client", func(t *testing.T) {
		// The HR system provisioned the person with the same login and
		// another address.
		status, doc := e.call(hrClient, http.MethodPost, "/Users",
			`{"schemas":["`+userURN+`"],"externalId":"hr-1","userName":"paul.durand","name":{"givenName":"Paul","familyName":"Durand"},`+
				`"emails":[{"value":"p.durand@hr.example","primary":true}]}`)
		if status != http.StatusCreated {
			t.Fatalf("HR create: %d %v", status, doc)
		}
		remoteID, _ := doc["id"].(string)
		paul := account("acc-paul", "paul.durand", "Paul", "Durand", "paul.durand@univ-test.fr")
		r, err := tg.Write(ctx, paul, propagate.Remote{})
		if err != nil {
			t.Fatal(err)
		}
		if r.ID != remoteID {
			t.Fatalf("Write created %s, want the existing User %s adopted", r.ID, remoteID)
		}
		if got := e.seen(); !slices.Contains(got, "POST /Users") || !slices.Contains(got, "PATCH /Users/"+remoteID) {
			t.Errorf("requests %v: want a POST, then a PATCH of %s", got, remoteID)
		}
		u := e.user(remoteID)
		if u.str("externalId") != "acc-paul" || !slices.Contains(u.emails(), "paul.durand@univ-test.fr") {
			t.Errorf("adopted User: %v", u)
		}
	})

	t.Run("made by an earlier delivery", func(t *testing.T) {
		// The POST went through but its answer was lost: the
		// dispatcher writes again with no remote id.
		lea := account("acc-lea", "lea.petit", "Léa", "Petit", "lea.petit@univ-test.fr")
		first, err := tg.Write(ctx, lea, propagate.Remote{})
		if err != nil {
			t.Fatal(err)
		}
		lea.FamilyName = "Petit-Jean"
		again, err := tg.Write(ctx, lea, propagate.Remote{})
		if err != nil {
			t.Fatal(err)
		}
		if again.ID != first.ID {
			t.Fatalf("second delivery: %s, want %s", again.ID, first.ID)
		}
		if u := e.user(first.ID); u.str("name.familyName") != "Petit-Jean" {
			t.Errorf("familyName %q", u.str("name.familyName"))
		}
		if n := len(e.search(`userName eq "lea.petit"`)); n != 1 {
			t.Errorf("%d Users lea.petit, want 1", n)
		}
	})

	t.Run("held by another account", func(t *testing.T) {
		// The login belongs to another canonical account's User (its
		// merge is not written yet): that User is not taken over.
		owner := account("acc-owner", "camille", "Camille", "Martin", "camille@univ-test.fr")
		or, err := tg.Write(ctx, owner, propagate.Remote{})
		if err != nil {
			t.Fatal(err)
		}
		other := account("acc-other", "camille", "Camille", "Martin", "c.martin@univ-test.fr")
		_, err = tg.Write(ctx, other, propagate.Remote{})
		if err == nil || statusOf(err) != http.StatusConflict {
			t.Fatalf("Write of a login another account holds: %v, want the 409", err)
		}
		if ok, _ := propagate.IsUnavailable(err); ok {
			t.Errorf("a conflict is not unavailability: %v", err)
		}
		if !strings.Contains(err.Error(), or.ID) || !strings.Contains(err.Error(), "acc-owner") {
			t.Errorf("error %q does not name the User %s of acc-owner", err, or.ID)
		}
		if u := e.user(or.ID); u.str("externalId") != "acc-owner" {
			t.Errorf("the owner's User now has externalId %q", u.str("externalId"))
		}
	})
}

// TestRecreate: an update of a User the provider no longer has creates it
// again and returns the new id.
func TestRecreate(t *testing.T) {
	e := newEnv(t, fastConfig())
	tg := e.target()
	hugo := account("acc-hugo", "hugo.leroy", "Hugo", "Leroy", "hugo.leroy@univ-test.fr")
	const lost = "00000000-0000-4000-8000-000000000000"
	r, err := tg.Write(t.Context(), hugo, propagate.Remote{ID: lost, Hash: "h1"})
	if err != nil {
		t.Fatal(err)
	}
	if r.ID == "" || r.ID == lost {
		t.Fatalf("Write returned id %q, want a new one", r.ID)
	}
	if got, want := e.seen(), []string{"GET /ServiceProviderConfig", "PATCH /Users/" + lost, "POST /Users"}; !slices.Equal(got, want) {
		t.Errorf("requests %v, want %v", got, want)
	}
	if u := e.user(r.ID); u.str("userName") != "hugo.leroy" || u.str("externalId") != "acc-hugo" {
		t.Errorf("re-created User: %v", u)
	}
}

// TestMergeOnServer merges two accounts as canonid's dispatcher writes a
// merge: the retired account first, which frees its login and address,
// then the survivor. canonid's server keeps one address per client (the
// primary), so the survivor's second address is checked on the fake
// provider (TestMergeSequence).
func TestMergeOnServer(t *testing.T) {
	e := newEnv(t, fastConfig())
	tg := e.target()
	ctx := t.Context()
	now := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	tg.now = func() time.Time { return now }

	univ := account("acc-univ", "jdupont", "Jean", "Dupont", "jean.dupont@univ-test.fr")
	perso := account("acc-perso", "jdupont.perso", "Jean", "Dupont", "jdupont.perso@gmail.com")
	ru, err := tg.Write(ctx, univ, propagate.Remote{})
	if err != nil {
		t.Fatal(err)
	}
	rp, err := tg.Write(ctx, perso, propagate.Remote{})
	if err != nil {
		t.Fatal(err)
	}

	// perso is merged into univ; the survivor's primary address is the
	// retired account's.
	retired := perso
	retired.State, retired.SurvivorID, retired.Emails = propagate.StateRetired, univ.ID, nil
	rp2, err := tg.Write(ctx, retired, rp)
	if err != nil {
		t.Fatal(err)
	}
	if rp2.ID != rp.ID || !rp2.RetiredAt.Equal(now) {
		t.Errorf("retired write returned %+v, want id %s retired at %s", rp2, rp.ID, now)
	}
	u := e.user(rp.ID)
	if u.active() || u.str("userName") != Tombstone("acc-perso") || len(u.emails()) != 0 || u.str("name.givenName") != "Jean" {
		t.Errorf("retired User: %v", u)
	}
	if got := e.search(`userName eq "jdupont.perso"`); len(got) != 0 {
		t.Errorf("the retired login is still held: %v", got)
	}
	if got := e.search(`emails eq "jdupont.perso@gmail.com"`); len(got) != 0 {
		t.Errorf("the retired address is still held: %v", got)
	}

	survivor := univ
	survivor.Emails = []propagate.Email{{Address: "jdupont.perso@gmail.com", Primary: true}, {Address: "jean.dupont@univ-test.fr"}}
	survivor.MergedLogins = []string{"jdupont.perso"}
	if _, err := tg.Write(ctx, survivor, ru); err != nil {
		t.Fatal(err)
	}
	var active []string
	for _, x := range e.search(`name.familyName eq "Dupont"`) {
		if x.active() {
			active = append(active, x.str("id"))
		}
	}
	if !slices.Equal(active, []string{ru.ID}) {
		t.Errorf("active Dupont: %v, want only the survivor %s", active, ru.ID)
	}
	if got := e.user(ru.ID).emails(); len(got) == 0 || got[0] != "jdupont.perso@gmail.com" {
		t.Errorf("survivor addresses %v, want the retired account's first", got)
	}
	// Written again (at least once delivery): same state, same time.
	again, err := tg.Write(ctx, retired, rp2)
	if err != nil || !again.RetiredAt.Equal(now) {
		t.Errorf("second retired write: %+v, %v", again, err)
	}

	// Undo: the survivor loses the address first, then the restored
	// account takes back its login and address.
	if _, err := tg.Write(ctx, univ, ru); err != nil {
		t.Fatal(err)
	}
	back, err := tg.Write(ctx, perso, rp2)
	if err != nil {
		t.Fatal(err)
	}
	if back.ID != rp.ID || !back.RetiredAt.IsZero() {
		t.Errorf("restored write returned %+v", back)
	}
	for id, want := range map[string]propagate.Account{ru.ID: univ, rp.ID: perso} {
		u := e.user(id)
		if !u.active() || u.str("userName") != want.Login || !slices.Equal(u.emails(), []string{want.Emails[0].Address}) {
			t.Errorf("after undo, User %s: %v, want %s active with %s", id, u, want.Login, want.Emails[0].Address)
		}
	}
}

// TestRetiredNeverWritten: a retired account that never reached the
// provider is not written.
func TestRetiredNeverWritten(t *testing.T) {
	e := newEnv(t, fastConfig())
	tg := e.target()
	a := account("acc-x", "x", "X", "Y")
	a.State = propagate.StateRetired
	r, err := tg.Write(t.Context(), a, propagate.Remote{})
	if err != nil || r != (propagate.Remote{}) {
		t.Errorf("Write = %+v, %v; want the zero Remote", r, err)
	}
	if got := e.seen(); len(got) != 0 {
		t.Errorf("requests %v, want none", got)
	}
}

// TestDelete deletes a retired User after the grace; canonid's server
// answers a DELETE by dropping the client's link (its externalId), and a
// second DELETE, or one of a merged id (404), succeeds too.
func TestDelete(t *testing.T) {
	e := newEnv(t, fastConfig())
	tg := e.target(func(c *Config) { c.OnMerge = OnMergeDelete })
	ctx := t.Context()
	if d, ok := tg.Grace(); !ok || d != DefaultDeleteAfter {
		t.Errorf("Grace() = %s, %v; want %s", d, ok, DefaultDeleteAfter)
	}
	a := account("acc-del", "del", "Del", "Ete", "del@univ-test.fr")
	r, err := tg.Write(ctx, a, propagate.Remote{})
	if err != nil {
		t.Fatal(err)
	}
	a.State, a.Emails = propagate.StateRetired, nil
	if r, err = tg.Write(ctx, a, r); err != nil {
		t.Fatal(err)
	}
	e.seen()
	if err := tg.Delete(ctx, r); err != nil {
		t.Fatal(err)
	}
	if got, want := e.seen(), []string{"DELETE /Users/" + r.ID}; !slices.Equal(got, want) {
		t.Errorf("requests %v, want %v", got, want)
	}
	if u := e.user(r.ID); u.str("externalId") != "" {
		t.Errorf("after DELETE the client still holds the User: %v", u)
	}
	if err := tg.Delete(ctx, r); err != nil {
		t.Errorf("second Delete: %v", err)
	}
	if err := tg.Delete(ctx, propagate.Remote{ID: "00000000-0000-4000-8000-00000000dead"}); err != nil {
		t.Errorf("Delete of an unknown User (404): %v", err)
	}

	// A target that never deletes sends nothing.
	keep := e.target()
	if _, ok := keep.Grace(); ok {
		t.Error("Grace() of a deactivate target without delete_after: ok")
	}
	e.seen()
	if err := keep.Delete(ctx, r); err != nil {
		t.Fatal(err)
	}
	if got := e.seen(); len(got) != 0 {
		t.Errorf("a deactivate-only target sent %v", got)
	}
}

// TestBadRequest: a value the provider refuses is an ordinary error that
// names the request and carries the SCIM detail.
func TestBadRequest(t *testing.T) {
	e := newEnv(t, fastConfig())
	tg := e.target()
	a := account("acc-bad", "bad", "Bad", "Mail", "not-an-address")
	_, err := tg.Write(t.Context(), a, propagate.Remote{})
	if err == nil {
		t.Fatal("Write of an invalid address succeeded")
	}
	if ok, _ := propagate.IsUnavailable(err); ok {
		t.Errorf("a 400 is unavailability: %v", err)
	}
	msg := err.Error()
	for _, want := range []string{"POST /scim/v2/Users", "400", "not-an-address"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not name %q", msg, want)
		}
	}
	if strings.Contains(msg, e.tokens[pushClient]) {
		t.Errorf("error %q shows the token", msg)
	}
}
