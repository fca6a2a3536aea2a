package scim_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/scim"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
)

const patchURN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

// userBody is a SCIM User as a provisioning client posts it.
func userBody(externalID, userName, given, family, email string) string {
	return fmt.Sprintf(`{"schemas":[%q],"externalId":%q,"userName":%q,"name":{"givenName":%q,"familyName":%q},"emails":[{"value":%q,"type":"work","primary":true}]}`,
		userURN, externalID, userName, given, family, email)
}

func patchBody(ops string) string {
	return `{"schemas":["` + patchURN + `"],"Operations":[` + ops + `]}`
}

// resourceIDs lists the ids of a list response's resources.
func resourceIDs(r response) []string {
	list, _ := r.get("Resources").([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		m, _ := x.(map[string]any)
		id, _ := m["id"].(string)
		out = append(out, id)
	}
	return out
}

// TestLifecycle provisions a user, patches it, deactivates it, lists with
// filters and paging, then merges it with the account another client made
// for the same person: the retired id answers 404 naming the survivor, which
// carries both addresses.
func TestLifecycle(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, scim.DefaultConfig())
		e.token("ars", store.RoleSCIM)

		// Provision.
		jean := e.do("hr", "POST", "/scim/v2/Users", userBody("hr-1", "jean.dupont", "Jean", "Dupont", "jean.dupont@univ-test.fr")).must(t, http.StatusCreated)
		id := jean.str("id")
		if got := jean.header.Get("Location"); got != base+"/Users/"+id {
			t.Errorf("Location = %q, want %s/Users/%s", got, base, id)
		}
		if v := jean.str("meta/version"); v != `W/"1"` {
			t.Errorf("version %q after create", v)
		}

		// Patch.
		patched := e.do("hr", "PATCH", "/scim/v2/Users/"+id, patchBody(`{"op":"replace","path":"name.givenName","value":"Jean-Marc"}`),
			"If-Match", `W/"1"`).must(t, http.StatusOK)
		if g := patched.str("name/givenName"); g != "Jean-Marc" {
			t.Errorf("givenName %q after patch", g)
		}
		if v := patched.str("meta/version"); v == `W/"1"` || patched.header.Get("ETag") != v {
			t.Errorf("version %q, ETag %q after patch: want a new version in both", v, patched.header.Get("ETag"))
		}
		// The old version no longer matches.
		e.do("hr", "PUT", "/scim/v2/Users/"+id, userBody("hr-1", "jean.dupont", "Jean", "Dupont", "jean.dupont@univ-test.fr"),
			"If-Match", `W/"1"`).must(t, http.StatusPreconditionFailed)

		// The client renames its identity: same account, still active.
		renamed := e.do("hr", "PATCH", "/scim/v2/Users/"+id, patchBody(`{"op":"replace","path":"externalId","value":"hr-1b"}`)).must(t, http.StatusOK)
		if renamed.str("externalId") != "hr-1b" || renamed.get("active") != true || renamed.str(accURN+"/status") != "active" ||
			renamed.str(accURN+"/linkedIdentities/0/externalId") != "hr-1b" || renamed.get(accURN+"/linkedIdentities/1") != nil {
			t.Errorf("after renaming the externalId: %s", renamed.raw)
		}
		if got := resourceIDs(e.do("hr", "GET", "/scim/v2/Users?filter="+q(`externalId eq "hr-1"`), "")); len(got) != 0 {
			t.Errorf("the old externalId still finds %v", got)
		}

		// Deactivate.
		off := e.do("hr", "PATCH", "/scim/v2/Users/"+id, patchBody(`{"op":"replace","path":"active","value":false}`)).must(t, http.StatusOK)
		if off.get("active") != false || off.str(accURN+"/status") != "suspended" {
			t.Errorf("after deactivation: active %v, status %q", off.get("active"), off.str(accURN+"/status"))
		}

		// Eleven more Dupont, and two others.
		for i := range 11 {
			e.do("hr", "POST", "/scim/v2/Users", userBody(fmt.Sprintf("hr-d%02d", i), fmt.Sprintf("dupont%02d", i), fmt.Sprintf("Prénom%02d", i),
				"Dupont", fmt.Sprintf("dupont%02d@univ-test.fr", i))).must(t, http.StatusCreated)
		}
		e.do("hr", "POST", "/scim/v2/Users", userBody("hr-x", "zoe.martin", "Zoé", "Martin", "zoe.martin@univ-test.fr")).must(t, http.StatusCreated)
		e.do("hr", "POST", "/scim/v2/Users", userBody("hr-y", "ali.dupond", "Ali", "Dupond", "ali.dupond@univ-test.fr")).must(t, http.StatusCreated)

		dupont := q(`name.familyName eq "DUPONT"`)
		var walked []string
		for start := 1; ; start += 5 {
			page := e.do("hr", "GET", fmt.Sprintf("/scim/v2/Users?filter=%s&startIndex=%d&count=5", dupont, start), "").must(t, http.StatusOK)
			if tr := page.get("totalResults"); tr != 12.0 {
				t.Fatalf("page at %d: totalResults %v, want 12", start, tr)
			}
			if si := page.get("startIndex"); si != float64(start) {
				t.Errorf("startIndex %v, want %d", si, start)
			}
			got := resourceIDs(page)
			if ipp := page.get("itemsPerPage"); ipp != float64(len(got)) {
				t.Errorf("itemsPerPage %v for %d resources", ipp, len(got))
			}
			if len(got) == 0 {
				break
			}
			walked = append(walked, got...)
		}
		if len(walked) != 12 || !slices.Contains(walked, id) {
			t.Errorf("paging walked %d resources (%v), want the 12 Dupont with %s", len(walked), walked, id)
		}
		sorted := slices.Clone(walked)
		slices.Sort(sorted)
		if len(slices.Compact(sorted)) != len(walked) {
			t.Errorf("paging returned duplicates: %v", walked)
		}

		desc := e.do("hr", "GET", "/scim/v2/Users?filter="+q(`name.familyName sw "dupon"`)+"&sortBy=name.givenName&sortOrder=descending&attributes=name.givenName", "").
			must(t, http.StatusOK)
		var names []string
		for i := range 13 {
			names = append(names, desc.str(fmt.Sprintf("Resources/%d/name/givenName", i)))
		}
		if names[0] != "Prénom10" || names[11] != "Jean-Marc" || names[12] != "Ali" {
			t.Errorf("sortBy name.givenName descending: %v", names)
		}
		inactive := e.do("hr", "GET", "/scim/v2/Users?filter="+q(`active eq false`), "").must(t, http.StatusOK)
		if got := resourceIDs(inactive); !slices.Equal(got, []string{id}) {
			t.Errorf("active eq false: %v, want [%s]", got, id)
		}
		total := e.do("hr", "GET", "/scim/v2/Users?count=0", "").must(t, http.StatusOK)
		if total.get("totalResults") != 14.0 || len(resourceIDs(total)) != 0 {
			t.Errorf("count=0: totalResults %v with %d resources, want 14 and none", total.get("totalResults"), len(resourceIDs(total)))
		}

		// The agency's client made a second account for Jean, with his
		// personal address; an administrator merges it into the first.
		perso := e.do("ars", "POST", "/scim/v2/Users", userBody("ars-77", "jdupont.perso@gmail.com", "Jean", "Dupont", "jdupont.perso@gmail.com")).
			must(t, http.StatusCreated)
		retired := perso.str("id")
		if retired == id {
			t.Fatal("the second client's user was linked to the first account; the test needs two accounts")
		}
		svc := accounts.New(st, accounts.DefaultConfig(), slog.New(slog.NewTextHandler(io.Discard, nil)))
		if _, err := svc.Merge(ctx, accounts.MergeRequest{SurvivorID: id, RetiredID: retired, Actor: "test"}); err != nil {
			t.Fatal(err)
		}

		gone := e.do("ars", "GET", "/scim/v2/Users/"+retired, "").must(t, http.StatusNotFound)
		if d := gone.str("detail"); !strings.Contains(d, id) {
			t.Errorf("404 detail %q does not name the survivor %s", d, id)
		}
		e.do("ars", "PATCH", "/scim/v2/Users/"+retired, patchBody(`{"op":"replace","path":"displayName","value":"x"}`)).must(t, http.StatusNotFound)

		survivor := e.do("ars", "GET", "/scim/v2/Users/"+id, "").must(t, http.StatusOK)
		var emails []string
		for i := range 3 {
			if v := survivor.str(fmt.Sprintf("emails/%d/value", i)); v != "" {
				emails = append(emails, v)
			}
		}
		slices.Sort(emails)
		if want := []string{"jdupont.perso@gmail.com", "jean.dupont@univ-test.fr"}; !slices.Equal(emails, want) {
			t.Errorf("survivor emails %v, want %v", emails, want)
		}
		if m := survivor.str(accURN + "/mergedIds/0"); m != retired {
			t.Errorf("mergedIds/0 = %q, want %s", m, retired)
		}
		// The agency's client now sees its user as the survivor, by its
		// own external id.
		byExt := e.do("ars", "GET", "/scim/v2/Users?filter="+q(`externalId eq "ars-77"`), "").must(t, http.StatusOK)
		if got := resourceIDs(byExt); !slices.Equal(got, []string{id}) {
			t.Errorf("ars externalId filter after merge: %v, want [%s]", got, id)
		}
		// Lists hide the retired account.
		all := e.do("hr", "GET", "/scim/v2/Users?count=100", "").must(t, http.StatusOK)
		if got := resourceIDs(all); slices.Contains(got, retired) || len(got) != 14 {
			t.Errorf("list after merge: %d resources, retired shown: %v", len(got), slices.Contains(got, retired))
		}
		storetest.CheckInvariants(t, st)
	})
}
