package scim_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/canonid/canonid/scim"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
)

// eventTypes lists the types of the audit events of an account, oldest
// first.
func (e *env) eventTypes(accountID string) []string {
	e.t.Helper()
	var out []string
	err := e.st.View(ctx, func(tx store.Tx) error {
		entries, err := tx.Audit().List(ctx, store.AuditQuery{AccountID: accountID, Limit: 1000})
		for _, en := range entries {
			out = append(out, en.Type)
		}
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	slices.Reverse(out)
	return out
}

// TestPatchActiveOnly: a PATCH of active alone (what Entra ID sends to
// disable and enable a user) changes the link's state and nothing else: no
// link.updated of the client's snapshot.
func TestPatchActiveOnly(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, scim.DefaultConfig())
		id := e.do("hr", "POST", "/scim/v2/Users", userBody("hr-7", "marc.petit", "Marc", "Petit", "marc.petit@univ-test.fr")).
			must(t, http.StatusCreated).str("id")
		before := e.eventTypes(id)
		off := e.do("hr", "PATCH", "/scim/v2/Users/"+id, patchBody(`{"op":"Replace","path":"active","value":"False"}`)).must(t, http.StatusOK)
		on := e.do("hr", "PATCH", "/scim/v2/Users/"+id, patchBody(`{"op":"replace","value":{"active":true}}`)).must(t, http.StatusOK)
		if off.get("active") != false || on.get("active") != true {
			t.Errorf("active after the two patches: %v then %v", off.get("active"), on.get("active"))
		}
		want := []string{"link.gone", "account.suspended", "link.restored", "account.activated"}
		if got := e.eventTypes(id)[len(before):]; !slices.Equal(got, want) {
			t.Errorf("events of two PATCHes of active: %v, want %v (no link.updated)", got, want)
		}
		// A PATCH that changes nothing writes nothing.
		e.do("hr", "PATCH", "/scim/v2/Users/"+id, patchBody(`{"op":"replace","path":"active","value":true}`)).must(t, http.StatusOK)
		if got := e.eventTypes(id)[len(before):]; len(got) != len(want) {
			t.Errorf("a PATCH of active to what it was recorded %v", got[len(want):])
		}
	})
}
