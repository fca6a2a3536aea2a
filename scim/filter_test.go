package scim_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/canonid/canonid/scim"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
)

// TestFilters runs SCIM filters on both stores, where they become SQL, and
// checks which users each one selects. The hr client sees its own
// externalIds only; david was provisioned by the ars client.
func TestFilters(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, scim.DefaultConfig())
		e.token("ars", store.RoleSCIM)

		ids := map[string]string{} // userName -> id
		post := func(client, body string) response {
			t.Helper()
			r := e.do(client, "POST", "/scim/v2/Users", body).must(t, http.StatusCreated)
			ids[r.str("userName")] = r.id()
			return r
		}
		alice := post("hr", `{"schemas":["`+userURN+`"],"externalId":"e-alice","userName":"alice.martin","displayName":"Alice Martin",
			"name":{"givenName":"Alice","familyName":"Martin"},"emails":[{"value":"alice.martin@univ-test.fr","type":"work","primary":true}]}`)
		post("hr", userBody("e-bob", "bob.durand", "Bob", "Durand", "Bob@Gmail.com"))
		post("hr", `{"schemas":["`+userURN+`"],"externalId":"E-ELO","userName":"elodie.lefevre","displayName":"Élodie Lefèvre",
			"name":{"givenName":"Élodie","familyName":"Lefèvre"},"emails":[{"value":"elodie.lefevre@univ-test.fr","primary":true}]}`)
		chloe := post("hr", `{"schemas":["`+userURN+`"],"externalId":"e-chloe","userName":"chloe","name":{"givenName":"Chloé","familyName":"Martinez"}}`)
		post("ars", userBody("ars-1", "david.petit", "David", "Petit", "david.petit@ars-test.fr"))
		e.do("hr", "PATCH", "/scim/v2/Users/"+chloe.id(), patchBody(`{"op":"replace","path":"active","value":false}`)).must(t, http.StatusOK)
		aliceModified := alice.str("meta/lastModified")

		everyone := []string{"alice.martin", "bob.durand", "chloe", "david.petit", "elodie.lefevre"}
		cases := []struct {
			filter string
			want   []string
		}{
			{`userName eq "ALICE.MARTIN"`, []string{"alice.martin"}},
			{`userName ne "alice.martin"`, []string{"bob.durand", "chloe", "david.petit", "elodie.lefevre"}},
			{`userName co "MART"`, []string{"alice.martin"}},
			{`userName sw "b"`, []string{"bob.durand"}},
			{`userName ew "LEFEVRE"`, []string{"elodie.lefevre"}},
			{`userName gt "c"`, []string{"chloe", "david.petit", "elodie.lefevre"}},
			{`userName ge "chloe"`, []string{"chloe", "david.petit", "elodie.lefevre"}},
			{`userName lt "bob.durand"`, []string{"alice.martin"}},
			{`userName le "bob.durand"`, []string{"alice.martin", "bob.durand"}},
			{`userName pr`, everyone},
			{`externalId eq "e-alice"`, []string{"alice.martin"}},
			{`externalId eq "E-ALICE"`, nil}, // externalId is case-exact
			{`externalId sw "E-"`, []string{"elodie.lefevre"}},
			{`externalId co "ch"`, []string{"chloe"}},
			{`externalId ew "-bob"`, []string{"bob.durand"}},
			{`externalId eq "ars-1"`, nil}, // the ars client's, not hr's
			{`externalId pr`, []string{"alice.martin", "bob.durand", "chloe", "elodie.lefevre"}},
			{`not (externalId pr)`, []string{"david.petit"}},
			{`id eq "` + alice.id() + `"`, []string{"alice.martin"}},
			{`id ne "` + alice.id() + `" and userName sw "a"`, nil},
			{`emails.value ew "@gmail.com"`, []string{"bob.durand"}},
			{`emails co "UNIV-TEST"`, []string{"alice.martin", "elodie.lefevre"}},
			{`emails pr`, []string{"alice.martin", "bob.durand", "david.petit", "elodie.lefevre"}},
			{`not (emails pr)`, []string{"chloe"}},
			{`emails[value sw "alice" and primary eq true]`, []string{"alice.martin"}},
			{`emails[primary eq false]`, nil},
			{`emails[type eq "work"].value eq "bob@gmail.com"`, []string{"bob.durand"}},
			{`emails[type eq "work"].value eq "Elodie.Lefevre@univ-test.fr"`, []string{"elodie.lefevre"}},
			{`name.givenName eq "ÉLODIE"`, []string{"elodie.lefevre"}},
			{`name.givenName co "lo"`, []string{"chloe", "elodie.lefevre"}},
			{`name.familyName sw "mart"`, []string{"alice.martin", "chloe"}},
			{`name.familyName eq "Martin" or name.familyName eq "durand"`, []string{"alice.martin", "bob.durand"}},
			{`name.familyName ew "èvre"`, []string{"elodie.lefevre"}},
			{`displayName pr`, []string{"alice.martin", "elodie.lefevre"}},
			{`displayName eq "alice martin"`, []string{"alice.martin"}},
			{`active eq false`, []string{"chloe"}},
			{`active eq "False"`, []string{"chloe"}},
			{`active eq true and name.familyName sw "Mart"`, []string{"alice.martin"}},
			{`not (active eq true) or userName eq "bob.durand"`, []string{"bob.durand", "chloe"}},
			{`(userName sw "a" or userName sw "b") and not (emails.value co "gmail")`, []string{"alice.martin"}},
			{`meta.lastModified gt "2000-01-01T00:00:00Z"`, everyone},
			{`meta.lastModified lt "2000-01-01T00:00:00Z"`, nil},
			{`meta.lastModified ge "` + aliceModified + `" and userName eq "alice.martin"`, []string{"alice.martin"}},
			{`meta.lastModified le "` + aliceModified + `" and userName eq "alice.martin"`, []string{"alice.martin"}},
			{`meta.lastModified gt "` + aliceModified + `" and userName eq "alice.martin"`, nil},
			{`meta.created le "2999-01-01T00:00:00Z"`, everyone},
		}
		for _, c := range cases {
			r := e.do("hr", "GET", "/scim/v2/Users?attributes=userName&filter="+q(c.filter), "")
			if r.status != http.StatusOK {
				t.Errorf("%s: status %d: %s", c.filter, r.status, r.raw)
				continue
			}
			var got []string
			for i := range 10 {
				if u := r.str("Resources/" + itoa(i) + "/userName"); u != "" {
					got = append(got, u)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, c.want) {
				t.Errorf("%s: got %v, want %v", c.filter, got, c.want)
			}
			if r.get("totalResults") != float64(len(c.want)) {
				t.Errorf("%s: totalResults %v, want %d", c.filter, r.get("totalResults"), len(c.want))
			}
		}

		// totalResults whatever the page: past the end, full, short (each
		// filter spelled differently, so that no count is cached).
		for _, c := range []struct {
			filter            string
			start, count, got int
		}{
			{`userName pr`, 50, 2, 0},
			{`userName pr and userName pr`, 4, 2, 2},
			{`(userName pr)`, 5, 2, 1},
			{`userName pr or userName pr`, 6, 2, 0},
		} {
			r := e.do("hr", "GET", "/scim/v2/Users?filter="+q(c.filter)+"&startIndex="+itoa(c.start)+"&count="+itoa(c.count), "").must(t, http.StatusOK)
			if r.get("totalResults") != 5.0 || len(resourceIDs(r)) != c.got {
				t.Errorf("%s from %d: totalResults %v with %d resources, want 5 with %d", c.filter, c.start, r.get("totalResults"), len(resourceIDs(r)), c.got)
			}
		}

		bad := []struct{ filter, detail string }{
			{`meta.lastModified gt "yesterday"`, "lastModified"},
			{`active eq "maybe"`, "active"},
			{`userName gt true`, "userName"},
			{`emails.display eq "x"`, "emails.display"},
			{`userName eq "a" and`, ""},
			{strings.Repeat(`not (`, 20) + `userName eq "a"` + strings.Repeat(`)`, 20), "deep"},
			{strings.Repeat(`userName eq "a" or `, 100) + `userName eq "b"`, "comparisons"},
		}
		for _, c := range bad {
			r := e.do("hr", "GET", "/scim/v2/Users?filter="+q(c.filter), "")
			if r.status != http.StatusBadRequest || r.str("scimType") != "invalidFilter" {
				t.Errorf("%s: %d %s, want 400 invalidFilter", c.filter, r.status, r.raw)
			} else if !strings.Contains(r.str("detail"), c.detail) {
				t.Errorf("%s: detail %q does not name %q", c.filter, r.str("detail"), c.detail)
			}
		}
	})
}

func (r response) id() string { return r.str("id") }

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
