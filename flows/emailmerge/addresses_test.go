package emailmerge

import (
	"errors"
	"slices"
	"testing"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/flows/flowstest"
	"github.com/canonid/canonid/store"
)

// TestRemove: a pending address and a verified one the person added go;
// the primary address and one a source manages stay, and say why.
func TestRemove(t *testing.T) {
	eachEnv(t, nil, func(t *testing.T, e *env) {
		ctx := t.Context()
		a := e.account("alice", "pw", accounts.NewAccount{GivenName: "Alice", FamilyName: "Martin", Source: "ldap:campus",
			Emails: []accounts.NewEmail{{Address: "alice@univ-test.example", Verified: true}, {Address: "alice.martin@univ-test.example", Verified: true}}}, "", "")
		if _, err := e.svc.AddAddress(ctx, a.ID, "pending@perso.example", "fr"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.AddAddress(ctx, a.ID, "mine@perso.example", "fr"); err != nil {
			t.Fatal(err)
		}
		e.link() // pending@
		_, link := e.link()
		if _, err := e.svc.Confirm(ctx, a.ID, flowstest.TokenOf(t, link), false); err != nil {
			t.Fatal(err)
		}

		for _, tc := range []struct {
			address string
			want    error
		}{
			{"alice@univ-test.example", ErrPrimary},
			{"alice.martin@univ-test.example", ErrManaged},
			{"nobody@perso.example", store.ErrNotFound},
			{"Pending@perso.example", nil},
			{"mine@perso.example", nil},
		} {
			err := e.svc.Remove(ctx, a.ID, tc.address)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Remove(%s) = %v, want %v", tc.address, err, tc.want)
			}
			_, got := e.email(a.ID, tc.address)
			if gone := errors.Is(got, store.ErrNotFound); gone != (tc.want == nil || tc.want == store.ErrNotFound) {
				t.Errorf("after Remove(%s): %v", tc.address, got)
			}
		}
		if n := countType(e.AuditTypes(a.ID), EventEmailRemoved); n != 2 {
			t.Errorf("%d email.removed events, want 2", n)
		}
	})
}

// TestSetPrimary: a verified address becomes the only primary one; a
// pending one cannot.
func TestSetPrimary(t *testing.T) {
	eachEnv(t, nil, func(t *testing.T, e *env) {
		ctx := t.Context()
		a := e.account("alice", "pw", accounts.NewAccount{GivenName: "Alice", FamilyName: "Martin",
			Emails: []accounts.NewEmail{{Address: "alice@univ-test.example", Verified: true}, {Address: "alice@perso.example", Verified: true}}}, "", "")
		if _, err := e.svc.AddAddress(ctx, a.ID, "pending@perso.example", "fr"); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.SetPrimary(ctx, a.ID, "pending@perso.example"); !errors.Is(err, ErrNotVerified) {
			t.Errorf("pending address made primary: %v", err)
		}
		if err := e.svc.SetPrimary(ctx, a.ID, "nobody@perso.example"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown address made primary: %v", err)
		}
		if err := e.svc.SetPrimary(ctx, a.ID, "Alice@Perso.example"); err != nil {
			t.Fatal(err)
		}
		es, err := e.svc.Addresses(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		var primary []string
		for _, x := range es {
			if x.Primary {
				primary = append(primary, x.Address)
			}
		}
		if !slices.Equal(primary, []string{"alice@perso.example"}) {
			t.Errorf("primary addresses %v", primary)
		}
		// Again: nothing to do, nothing recorded.
		if err := e.svc.SetPrimary(ctx, a.ID, "alice@perso.example"); err != nil {
			t.Fatal(err)
		}
		if n := countType(e.AuditTypes(a.ID), EventEmailPrimarySet); n != 1 {
			t.Errorf("%d email.primary_set events, want 1", n)
		}
	})
}

func countType(types []string, typ string) int {
	n := 0
	for _, t := range types {
		if t == typ {
			n++
		}
	}
	return n
}
