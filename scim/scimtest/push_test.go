package scimtest

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/canonid/canonid/propagate"
	"github.com/canonid/canonid/scim/push"
)

// target is a scim/push Target on s.
func target(t *testing.T, s *Server, timeout time.Duration) *push.Target {
	t.Helper()
	tg, err := push.New(push.Config{Name: "scimtest", URL: s.URL, Token: s.Token, Timeout: timeout}, s.Client)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// TestPushMergeSequence writes a merge and its undo with scim/push, in the
// dispatcher's order, to a provider that refuses duplicate userNames and
// addresses: the retired account frees its values, the survivor takes both
// addresses; undone, each is active with its own.
func TestPushMergeSequence(t *testing.T) {
	for _, c := range []struct {
		name string
		opts Options
		// unused is the method the target must not send.
		unused string
	}{
		{"patch", Options{}, http.MethodPut},
		{"put", Options{NoPatch: true}, http.MethodPatch},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := Start(t, c.opts)
			tg := target(t, s, 0)
			ctx := t.Context()

			perso := propagate.Account{ID: "acc-perso", State: propagate.StateActive, Login: "jdupont.perso",
				GivenName: "Jean", FamilyName: "Dupont", Phone: "+33 6 00 00 00 01",
				Emails: []propagate.Email{{Address: "jdupont.perso@gmail.com", Primary: true}}}
			univ := propagate.Account{ID: "acc-univ", State: propagate.StateActive, Login: "jdupont",
				GivenName: "Jean", FamilyName: "Dupont", DisplayName: "Jean Dupont",
				Emails: []propagate.Email{{Address: "jean.dupont@univ-test.fr", Primary: true}}}
			rp, err := tg.Write(ctx, perso, propagate.Remote{})
			if err != nil {
				t.Fatal(err)
			}
			ru, err := tg.Write(ctx, univ, propagate.Remote{})
			if err != nil {
				t.Fatal(err)
			}
			if rp.ID == "" || ru.ID == "" || len(s.Users()) != 2 {
				t.Fatalf("remotes %+v %+v, Users %+v", rp, ru, s.Users())
			}

			retired := perso
			retired.State, retired.SurvivorID, retired.Emails = propagate.StateRetired, univ.ID, nil
			survivor := univ
			survivor.Emails = []propagate.Email{{Address: "jean.dupont@univ-test.fr", Primary: true}, {Address: "jdupont.perso@gmail.com"}}
			survivor.MergedLogins = []string{perso.Login}

			// Out of order, the provider refuses the address the retired
			// User still holds.
			var he *push.HTTPError
			if _, err := tg.Write(ctx, survivor, ru); !errors.As(err, &he) || he.Status != http.StatusConflict {
				t.Fatalf("survivor before the retired account: %v, want a 409", err)
			}

			rp2, err := tg.Write(ctx, retired, rp)
			if err != nil {
				t.Fatal(err)
			}
			if rp2.ID != rp.ID || rp2.RetiredAt.IsZero() {
				t.Errorf("retired Remote %+v", rp2)
			}
			if _, err := tg.Write(ctx, survivor, ru); err != nil {
				t.Fatal(err)
			}
			var active []User
			for _, u := range s.Users() {
				if u.Active {
					active = append(active, u)
				}
			}
			if len(active) != 1 || active[0].ID != ru.ID ||
				!slices.Equal(active[0].Emails, []string{"jean.dupont@univ-test.fr", "jdupont.perso@gmail.com"}) ||
				active[0].PrimaryEmail != "jean.dupont@univ-test.fr" || active[0].UserName != "jdupont" {
				t.Fatalf("active Users %+v, want the survivor %s alone with both addresses", active, ru.ID)
			}
			sameUser(t, user(t, s, rp.ID), User{ID: rp.ID, UserName: push.Tombstone(perso.ID), ExternalID: perso.ID,
				GivenName: "Jean", FamilyName: "Dupont", PhoneNumbers: []string{perso.Phone}})

			// Undo: the survivor gives the address back, then the
			// restored account is written active with its own values.
			if _, err := tg.Write(ctx, univ, ru); err != nil {
				t.Fatal(err)
			}
			back, err := tg.Write(ctx, perso, rp2)
			if err != nil {
				t.Fatal(err)
			}
			if back.ID != rp.ID || !back.RetiredAt.IsZero() {
				t.Errorf("restored Remote %+v", back)
			}
			sameUser(t, user(t, s, ru.ID), User{ID: ru.ID, UserName: "jdupont", ExternalID: univ.ID, Active: true,
				Emails: []string{"jean.dupont@univ-test.fr"}, PrimaryEmail: "jean.dupont@univ-test.fr",
				GivenName: "Jean", FamilyName: "Dupont", DisplayName: "Jean Dupont"})
			sameUser(t, user(t, s, rp.ID), User{ID: rp.ID, UserName: "jdupont.perso", ExternalID: perso.ID, Active: true,
				Emails: []string{"jdupont.perso@gmail.com"}, PrimaryEmail: "jdupont.perso@gmail.com",
				GivenName: "Jean", FamilyName: "Dupont", PhoneNumbers: []string{perso.Phone}})
			if n := len(s.Users()); n != 2 {
				t.Errorf("%d Users, want 2", n)
			}
			if n := s.RequestsByMethod(c.unused); n != 0 {
				t.Errorf("%d %s requests", n, c.unused)
			}
		})
	}
}

// TestPushFaults: what scim/push makes of a provider answering 500, 429
// with Retry-After, 503 while down, and too slowly.
func TestPushFaults(t *testing.T) {
	s := Start(t, Options{})
	tg := target(t, s, 200*time.Millisecond)
	ctx := t.Context()
	a := propagate.Account{ID: "acc-1", State: propagate.StateActive, Login: "jdupont",
		Emails: []propagate.Email{{Address: "jean@univ-test.fr", Primary: true}}}

	s.Fail(1, http.StatusTooManyRequests, "7")
	_, err := tg.Write(ctx, a, propagate.Remote{})
	if ok, after := propagate.IsUnavailable(err); !ok || after != 7*time.Second {
		t.Errorf("429: %v (unavailable %v, retry after %s)", err, ok, after)
	}
	s.Fail(1, http.StatusInternalServerError, "")
	_, err = tg.Write(ctx, a, propagate.Remote{})
	var he *push.HTTPError
	if ok, _ := propagate.IsUnavailable(err); ok || !errors.As(err, &he) || he.Status != http.StatusInternalServerError {
		t.Errorf("500: %v", err)
	}
	s.SetDown(true)
	_, err = tg.Write(ctx, a, propagate.Remote{})
	if ok, _ := propagate.IsUnavailable(err); !ok {
		t.Errorf("down: %v", err)
	}
	s.SetDown(false)
	s.Delay(time.Hour)
	_, err = tg.Write(ctx, a, propagate.Remote{})
	if ok, _ := propagate.IsUnavailable(err); !ok {
		t.Errorf("slow: %v", err)
	}
	await(t, s.gaveUp, "the delayed request did not end with its client")
	s.Delay(0)
	if len(s.Users()) != 0 {
		t.Fatalf("failed writes created Users: %+v", s.Users())
	}
	r, err := tg.Write(ctx, a, propagate.Remote{})
	if err != nil {
		t.Fatal(err)
	}
	if u, ok := s.UserByExternalID(a.ID); !ok || u.ID != r.ID || u.UserName != "jdupont" || !u.Active {
		t.Errorf("after the faults: %+v, %v (remote %+v)", u, ok, r)
	}
	// Written again with the User it remembers: one PATCH, no new User.
	patches := s.RequestsByMethod(http.MethodPatch)
	a.DisplayName = "Jean Dupont"
	if _, err := tg.Write(ctx, a, r); err != nil {
		t.Fatal(err)
	}
	if s.RequestsByMethod(http.MethodPatch) != patches+1 || len(s.Users()) != 1 {
		t.Errorf("update: %d PATCH, Users %+v", s.RequestsByMethod(http.MethodPatch)-patches, s.Users())
	}
}

// TestPushReconcilePaging: scim/push walks a provider's Users a page at a
// time (pages of MaxResults) and finds every account's User by externalId.
func TestPushReconcilePaging(t *testing.T) {
	s := Start(t, Options{MaxResults: 2})
	tg := target(t, s, 0)
	ctx := t.Context()
	var want []propagate.Account
	for i := range 5 {
		a := propagate.Account{ID: fmt.Sprintf("acc-%d", i), State: propagate.StateActive, Login: fmt.Sprintf("user%d", i),
			Emails: []propagate.Email{{Address: fmt.Sprintf("user%d@example.org", i), Primary: true}}}
		if _, err := tg.Write(ctx, a, propagate.Remote{}); err != nil {
			t.Fatal(err)
		}
		want = append(want, a)
	}
	stranger := s.Seed(User{UserName: "stranger", Active: true})
	gets := s.RequestsByMethod(http.MethodGet)
	rep, err := tg.Reconcile(ctx, want, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range rep.Accounts {
		u, _ := s.UserByExternalID(want[i].ID)
		if d.Action != push.ActionNone || d.RemoteID != u.ID || u.ID == "" {
			t.Errorf("%s: %+v, want none on %s", want[i].ID, d, u.ID)
		}
	}
	if !slices.Equal(rep.Unknown, []string{stranger.ID}) {
		t.Errorf("Unknown %v, want %s", rep.Unknown, stranger.ID)
	}
	// Six Users in pages of two, and the service provider config.
	if n := s.RequestsByMethod(http.MethodGet) - gets; n != 4 {
		t.Errorf("%d GET requests, want 4", n)
	}
}
