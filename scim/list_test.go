package scim_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/scim"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
)

// TestListMatchesLibrary checks that the lists canonid writes itself are
// byte for byte what the library path (the library's ListResponse, then
// finish) answers, for users with every part of a User, for two clients,
// paging, filters, sorting, .search and refused requests.
func TestListMatchesLibrary(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, scim.DefaultConfig())
		e.token("ars", store.RoleSCIM)

		full := `{"schemas":["` + userURN + `","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],` +
			`"externalId":"hr-<1>","userName":"zoe.muller","displayName":"Zoé <b>&\"Müller\"\u2028\t\u0001",` +
			`"name":{"givenName":"Zoé","familyName":"Müller"},` +
			`"emails":[{"value":"zoe.muller@univ-test.fr","type":"work","primary":true},{"value":"a.zoe@example.org","type":"home"}],` +
			`"phoneNumbers":[{"value":"+33 1 02 03 04 05","type":"work"}],` +
			`"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"E-42"}}`
		zoe := e.do("hr", "POST", "/scim/v2/Users", full).must(t, http.StatusCreated).str("id")
		family := e.do("hr", "POST", "/scim/v2/Users", `{"schemas":["`+userURN+`"],"userName":"dupond","name":{"familyName":"Dupond"}}`).
			must(t, http.StatusCreated).str("id")
		e.do("hr", "POST", "/scim/v2/Users", `{"schemas":["`+userURN+`"],"userName":"given.only","name":{"givenName":"Anne"}}`).
			must(t, http.StatusCreated)
		bare := e.do("hr", "POST", "/scim/v2/Users", `{"schemas":["`+userURN+`"],"userName":"bare"}`).must(t, http.StatusCreated).str("id")
		e.do("hr", "PATCH", "/scim/v2/Users/"+bare, patchBody(`{"op":"replace","path":"active","value":false}`)).must(t, http.StatusOK)
		other := e.do("ars", "POST", "/scim/v2/Users", userBody("ars-9", "z.perso@gmail.com", "Zoé", "Müller", "z.perso@gmail.com")).
			must(t, http.StatusCreated).str("id")
		svc := accounts.New(st, accounts.DefaultConfig(), slog.New(slog.NewTextHandler(io.Discard, nil)))
		if _, err := svc.Merge(ctx, accounts.MergeRequest{SurvivorID: zoe, RetiredID: other, Actor: "test"}); err != nil {
			t.Fatal(err)
		}
		err := st.Update(ctx, func(tx store.Tx) error {
			for _, o := range []identity.Org{{ID: "cpts-nord", Name: "CPTS Nord & Est"}, {ID: "lab-x", Name: "Labo <X>"}} {
				if err := tx.Orgs().Put(ctx, &o); err != nil {
					return err
				}
			}
			for _, m := range []identity.Membership{
				{OrgID: "cpts-nord", AccountID: zoe, Role: identity.RoleMember, State: identity.MembershipValidated},
				{OrgID: "lab-x", AccountID: zoe, Role: identity.RoleMember, State: identity.MembershipPending},
				{OrgID: "lab-x", AccountID: family, Role: identity.RoleMember, State: identity.MembershipValidated},
			} {
				if err := tx.Memberships().Put(ctx, &m); err != nil {
					return err
				}
			}
			return tx.Record(ctx, store.Event{Type: "test.orgs", Actor: "test"})
		})
		if err != nil {
			t.Fatal(err)
		}

		for _, c := range []struct{ client, method, path, body string }{
			{"hr", "GET", "/scim/v2/Users", ""},
			{"ars", "GET", "/scim/v2/Users", ""},
			{"hr", "GET", "/scim/v2/Users?startIndex=2&count=2", ""},
			{"hr", "GET", "/scim/v2/Users?startIndex=4&count=2", ""},
			{"hr", "GET", "/scim/v2/Users?startIndex=40&count=2", ""},
			{"hr", "GET", "/scim/v2/Users?count=0", ""},
			{"hr", "GET", "/scim/v2/Users?count=-3&startIndex=-1", ""},
			{"hr", "GET", "/scim/v2/Users?count=5000", ""},
			{"hr", "GET", "/scim/v2/Users?sortBy=userName&sortOrder=descending", ""},
			{"hr", "GET", "/scim/v2/Users?filter=" + q(`userName eq "ZOE.MULLER"`), ""},
			{"hr", "GET", "/scim/v2/Users?filter=" + q(`emails[type eq "work"].value eq "zoe.muller@univ-test.fr"`), ""},
			{"hr", "GET", "/scim/v2/Users?filter=" + q(`name.familyName pr and not (active eq false)`), ""},
			{"ars", "GET", "/scim/v2/users?filter=" + q(`externalId eq "ars-9"`), ""},
			{"hr", "POST", "/scim/v2/Users/.search", `{"filter":"userName sw \"d\"","count":1}`},
			// Refused: each answer must be the library's too.
			{"hr", "GET", "/scim/v2/Users?filter=" + q(`userName eq`), ""},
			{"hr", "GET", "/scim/v2/Users?filter=" + q(`nosuch eq "x"`), ""},
			{"hr", "GET", "/scim/v2/Users?count=ten&startIndex=first", ""},
			{"hr", "GET", "/scim/v2/Users?sortBy=nosuch", ""},
			{"", "GET", "/scim/v2/Users", ""},
		} {
			scim.SetLibraryLists(e.scim, false)
			got := e.do(c.client, c.method, c.path, c.body)
			scim.SetLibraryLists(e.scim, true)
			want := e.do(c.client, c.method, c.path, c.body)
			if got.status != want.status || got.raw != want.raw || got.header.Get("Content-Type") != want.header.Get("Content-Type") {
				t.Errorf("%s %s %s as %q:\n got %d %s %s\nwant %d %s %s", c.method, c.path, c.body, c.client,
					got.status, got.header.Get("Content-Type"), got.raw, want.status, want.header.Get("Content-Type"), want.raw)
			}
		}
		scim.SetLibraryLists(e.scim, false)
		// The users above are all there, with what the comparison is about.
		all := e.do("hr", "GET", "/scim/v2/Users", "").must(t, http.StatusOK)
		if n := all.get("totalResults"); n != 4.0 {
			t.Fatalf("totalResults %v, want 4 (the merged user hidden): %s", n, all.raw)
		}
		one := e.do("hr", "GET", "/scim/v2/Users?filter="+q(`userName eq "zoe.muller"`), "").must(t, http.StatusOK)
		if one.str("Resources/0/groups/0/display") != "CPTS Nord & Est" || one.str(accURN+"/mergedIds/0") != "" ||
			one.str("Resources/0/"+accURN+"/mergedIds/0") != other || one.str("Resources/0/phoneNumbers/0/value") == "" ||
			one.str("Resources/0/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User/employeeNumber") != "E-42" {
			t.Errorf("zoe: %s", one.raw)
		}
	})
}

// TestWalkAcrossWrites: a client reading the list page after page sees
// every user once when an account is created meanwhile before its position
// (an insert that shifts every later position by one): the walk goes on
// from the last user it read, with the total it started with. A new walk
// sees the new account and the new total.
func TestWalkAcrossWrites(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, scim.DefaultConfig())
		for i := range 6 {
			e.do("hr", "POST", "/scim/v2/Users", userBody(fmt.Sprintf("hr-%d", i), fmt.Sprintf("user%d", i), "U", "Ser", fmt.Sprintf("user%d@univ-test.fr", i))).
				must(t, http.StatusCreated)
		}
		all := resourceIDs(e.do("hr", "GET", "/scim/v2/Users", "").must(t, http.StatusOK))
		if len(all) != 6 || !slices.IsSorted(all) {
			t.Fatalf("the list: %v, want 6 ids in order", all)
		}

		var walked []string
		page := func(start int) response {
			r := e.do("hr", "GET", fmt.Sprintf("/scim/v2/Users?startIndex=%d&count=2", start), "").must(t, http.StatusOK)
			walked = append(walked, resourceIDs(r)...)
			return r
		}
		page(1)
		const first = "00000000-0000-4000-8000-000000000000" // before every random id
		err := st.Update(ctx, func(tx store.Tx) error {
			if err := tx.Accounts().Create(ctx, &identity.Account{ID: first, Status: identity.StatusActive, Login: "first"}); err != nil {
				return err
			}
			return tx.Record(ctx, store.Event{Type: "account.created", Actor: "test", AccountID: first})
		})
		if err != nil {
			t.Fatal(err)
		}
		if r := page(3); r.get("totalResults") != 6.0 || r.get("startIndex") != 3.0 {
			t.Errorf("page 2 after the insert: totalResults %v, startIndex %v; want the walk's 6 and 3", r.get("totalResults"), r.get("startIndex"))
		}
		page(5)
		if !slices.Equal(walked, all) {
			t.Errorf("the walk read %v, want every user once, in order: %v", walked, all)
		}
		again := e.do("hr", "GET", "/scim/v2/Users?count=2", "").must(t, http.StatusOK)
		if ids := resourceIDs(again); again.get("totalResults") != 7.0 || len(ids) != 2 || ids[0] != first || ids[1] != all[0] {
			t.Errorf("a new walk: totalResults %v, ids %v; want 7 and [%s %s]", again.get("totalResults"), ids, first, all[0])
		}
	})
}

// TestWalkExpires: a walk that pauses longer than the cursor's life starts
// over from the current state: the next page is read by position, with the
// current total.
func TestWalkExpires(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, scim.DefaultConfig())
		now := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
		var mu sync.Mutex
		scim.SetPageClock(e.scim, func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
		for i := range 4 {
			e.do("hr", "POST", "/scim/v2/Users", userBody(fmt.Sprintf("hr-%d", i), fmt.Sprintf("user%d", i), "U", "Ser", fmt.Sprintf("user%d@univ-test.fr", i))).
				must(t, http.StatusCreated)
		}
		all := resourceIDs(e.do("hr", "GET", "/scim/v2/Users?count=2", "").must(t, http.StatusOK))
		err := st.Update(ctx, func(tx store.Tx) error {
			const first = "00000000-0000-4000-8000-000000000000"
			if err := tx.Accounts().Create(ctx, &identity.Account{ID: first, Status: identity.StatusActive, Login: "first"}); err != nil {
				return err
			}
			return tx.Record(ctx, store.Event{Type: "account.created", Actor: "test", AccountID: first})
		})
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		now = now.Add(11 * time.Minute)
		mu.Unlock()
		r := e.do("hr", "GET", "/scim/v2/Users?startIndex=3&count=2", "").must(t, http.StatusOK)
		if ids := resourceIDs(r); r.get("totalResults") != 5.0 || len(ids) != 2 || ids[0] != all[1] {
			t.Errorf("page 2 after an 11-minute pause: totalResults %v, ids %v; want 5 and the page by position, from %s", r.get("totalResults"), ids, all[1])
		}
	})
}
