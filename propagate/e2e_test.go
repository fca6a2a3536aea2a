package propagate_test

import (
	"context"
	"path"
	"slices"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/connectors/ldap/slapdtest"
	"github.com/canonid/canonid/propagate"
	"github.com/canonid/canonid/propagate/ldapwrite"
	"github.com/canonid/canonid/scim/push"
	"github.com/canonid/canonid/scim/scimtest"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
)

// activeUsers keeps the provider's active users, by externalId (the
// canonical id).
func activeUsers(srv *scimtest.Server) map[string]scimtest.User {
	out := map[string]scimtest.User{}
	for _, u := range srv.Users() {
		if u.Active {
			out[u.ExternalID] = u
		}
	}
	return out
}

func sorted(v []string) []string {
	v = slices.Clone(v)
	slices.Sort(v)
	return v
}

// ldapEntries reads the entries below base: mail values by uid.
func ldapEntries(t *testing.T, conn *ldap.Conn, base string) map[string][]string {
	t.Helper()
	res, err := conn.Search(ldap.NewSearchRequest(base, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=inetOrgPerson)", []string{"uid", "mail"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, e := range res.Entries {
		mail := e.GetAttributeValues("mail")
		slices.Sort(mail)
		out[e.GetAttributeValue("uid")] = mail
	}
	return out
}

// waitUntil checks cond after every pause of the dispatcher's poll, for at
// most 20 s: the downstream platforms have no change feed to wait on.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(20 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestMergeReachesSCIMAndLDAP is the promise of seed 000 downstream: a
// merge leaves exactly one active user on a SCIM service provider (built on
// the SCIM library canonid's server uses, enforcing unique userNames and
// addresses as platforms do) and
// one entry in a real directory, carrying both addresses; an undo brings
// both accounts back, each with its own.
func TestMergeReachesSCIMAndLDAP(t *testing.T) {
	ds := scimtest.Start(t, scimtest.Options{})
	slapd := slapdtest.Start(t, slapdtest.Options{})
	base := "ou=canonid," + slapdtest.Suffix
	slapd.Add(t, "dn: "+base+"\nobjectClass: organizationalUnit\nou: canonid\n")
	conn := slapd.Conn(t)

	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		// Each store run starts from an empty downstream: a fresh ou.
		driver := path.Base(t.Name()) // sqlite or postgres
		ou := "ou=" + driver + "," + base
		slapd.Add(t, "dn: "+ou+"\nobjectClass: organizationalUnit\nou: "+driver+"\n")
		scimTarget, err := push.New(push.Config{Name: "lms-" + driver, URL: ds.URL, Token: ds.Token}, ds.Client)
		if err != nil {
			t.Fatal(err)
		}
		ldapTarget, err := ldapwrite.New(ldapwrite.Config{Name: "annuaire", URL: slapd.URL, BindDN: slapd.AdminDN,
			BindPassword: slapd.AdminPassword, BaseDN: ou})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ldapTarget.Close() })
		d := propagate.New(st, propagate.Options{Owner: "test", Poll: 100 * time.Millisecond})
		d.AddAccountTarget(propagate.TargetConfig{Name: "lms-" + driver}, scimTarget)
		d.AddAccountTarget(propagate.TargetConfig{Name: "annuaire"}, ldapTarget)
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); _ = d.Run(runCtx) }()
		t.Cleanup(func() { cancel(); <-done })

		svc := accounts.New(st, accounts.Config{}, nil)
		prefix := driver + "-"
		univ := create(t, svc, prefix+"jdupont", prefix+"jean.dupont@univ-test.fr")
		agency := create(t, svc, prefix+"jdupont-ars", prefix+"jean.dupont@gmail.test")
		both := []string{prefix + "jean.dupont@gmail.test", prefix + "jean.dupont@univ-test.fr"}
		mine := func(us map[string]scimtest.User) map[string]scimtest.User {
			out := map[string]scimtest.User{}
			for id, u := range us {
				if id == univ.ID || id == agency.ID {
					out[id] = u
				}
			}
			return out
		}
		waitUntil(t, "both accounts downstream", func() bool {
			return len(mine(activeUsers(ds))) == 2 && len(ldapEntries(t, conn, ou)) == 2
		})

		rec, err := svc.Merge(ctx, accounts.MergeRequest{SurvivorID: univ.ID, RetiredID: agency.ID, Reason: "admin", Actor: "test"})
		if err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "the merge downstream", func() bool {
			act := mine(activeUsers(ds))
			entries := ldapEntries(t, conn, ou)
			return len(act) == 1 && slices.Equal(sorted(act[univ.ID].Emails), both) &&
				len(entries) == 1 && slices.Equal(entries[prefix+"jdupont"], both)
		})

		if _, err := svc.Undo(ctx, rec.ID, "test"); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "the undo downstream", func() bool {
			act := mine(activeUsers(ds))
			entries := ldapEntries(t, conn, ou)
			return len(act) == 2 && slices.Equal(sorted(act[univ.ID].Emails), both[1:]) &&
				slices.Equal(sorted(act[agency.ID].Emails), both[:1]) && act[agency.ID].UserName == prefix+"jdupont-ars" &&
				len(entries) == 2 && slices.Equal(entries[prefix+"jdupont-ars"], both[:1])
		})
	})
}
