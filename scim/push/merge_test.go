package push

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/canonid/canonid/propagate"
)

// TestMergeSequence merges two accounts on a provider that keeps every
// address and refuses duplicates (the fake: canonid's own server keeps one
// address per client, see TestMergeOnServer). Written in the dispatcher's
// order, the retired account frees its login and address, and the
// survivor then holds both addresses: one active User. Undone, both are
// active again with their own values. Then the retired User is deleted
// after the grace.
func TestMergeSequence(t *testing.T) {
	for _, patch := range []bool{true, false} {
		name := "patch"
		if !patch {
			name = "put"
		}
		t.Run(name, func(t *testing.T) {
			f := newFakeProvider(t)
			f.patch = patch
			tg := f.target(func(c *Config) { c.OnMerge = OnMergeDelete; c.DeleteAfter = 48 * time.Hour })
			ctx := t.Context()
			now := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
			tg.now = func() time.Time { return now }

			univ := account("acc-univ", "jdupont", "Jean", "Dupont", "jean.dupont@univ-test.fr")
			perso := account("acc-perso", "jdupont.perso", "Jean", "Dupont", "jdupont.perso@gmail.com")
			perso.Phone = "+33 6 00 00 00 01"
			ru, err := tg.Write(ctx, univ, propagate.Remote{})
			if err != nil {
				t.Fatal(err)
			}
			rp, err := tg.Write(ctx, perso, propagate.Remote{})
			if err != nil {
				t.Fatal(err)
			}

			survivor := univ
			survivor.Emails = []propagate.Email{{Address: "jean.dupont@univ-test.fr", Primary: true}, {Address: "jdupont.perso@gmail.com"}}
			survivor.MergedLogins = []string{"jdupont.perso"}
			retired := perso
			retired.State, retired.SurvivorID, retired.Emails = propagate.StateRetired, univ.ID, nil

			// Out of order, the survivor cannot take an address the
			// retired User still holds: an ordinary error, the 409.
			if _, err := tg.Write(ctx, survivor, ru); statusOf(err) != http.StatusConflict {
				t.Fatalf("survivor written before the retired account: %v, want a 409", err)
			}

			rp2, err := tg.Write(ctx, retired, rp)
			if err != nil {
				t.Fatal(err)
			}
			if rp2.ID != rp.ID || !rp2.RetiredAt.Equal(now) {
				t.Errorf("retired Remote %+v, want id %s retired at %s", rp2, rp.ID, now)
			}
			gone := f.snapshot()[rp.ID]
			if gone.active() || gone.str("userName") != "merged-acc-perso@merged.invalid" || len(gone.emails()) != 0 ||
				gone.str("externalId") != "acc-perso" || gone.str("name.familyName") != "Dupont" {
				t.Errorf("retired User: %v", gone)
			}
			if _, err := tg.Write(ctx, survivor, ru); err != nil {
				t.Fatal(err)
			}
			var active []string
			for id, u := range f.snapshot() {
				if u.active() {
					active = append(active, id)
				}
			}
			if !slices.Equal(active, []string{ru.ID}) {
				t.Fatalf("active Users %v, want only the survivor %s", active, ru.ID)
			}
			want := []string{"jean.dupont@univ-test.fr", "jdupont.perso@gmail.com"}
			if got := f.snapshot()[ru.ID].emails(); !slices.Equal(got, want) {
				t.Errorf("survivor addresses %v, want %v", got, want)
			}

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
			users := f.snapshot()
			for id, a := range map[string]propagate.Account{ru.ID: univ, rp.ID: perso} {
				u := users[id]
				if !u.active() || u.str("userName") != a.Login || !slices.Equal(u.emails(), []string{a.Emails[0].Address}) {
					t.Errorf("after undo, User %s: %v", id, u)
				}
			}
			if ph, _ := users[rp.ID]["phoneNumbers"].([]any); len(ph) != 1 {
				t.Errorf("restored phoneNumbers %v", users[rp.ID]["phoneNumbers"])
			}

			// Merged again, and deleted after the grace.
			if rp2, err = tg.Write(ctx, retired, back); err != nil {
				t.Fatal(err)
			}
			if d, ok := tg.Grace(); !ok || d != 48*time.Hour {
				t.Errorf("Grace() = %s, %v", d, ok)
			}
			if err := tg.Delete(ctx, rp2); err != nil {
				t.Fatal(err)
			}
			if _, ok := f.snapshot()[rp.ID]; ok {
				t.Error("the retired User is still there after Delete")
			}
			if err := tg.Delete(ctx, rp2); err != nil {
				t.Errorf("Delete of a deleted User (404): %v", err)
			}
			// Written again after its deletion: nothing to free, nothing
			// to remember.
			if r, err := tg.Write(ctx, retired, rp2); err != nil || r != (propagate.Remote{}) {
				t.Errorf("retired write of a deleted User: %+v, %v", r, err)
			}
			if len(f.snapshot()) != 1 {
				t.Errorf("Users %v, want the survivor alone", f.snapshot())
			}
		})
	}
}
