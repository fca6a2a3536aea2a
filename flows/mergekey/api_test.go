package mergekey

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canonid/canonid/flows/flowstest"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
)

var keyFormat = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){4}$`)

// TestSeedStory is seed 002 over the JSON API: logged in on the account to
// give up (B), generate a key; logged in on the account to keep (A), paste
// it, see the preview, confirm; B is merged into A, which lists B's login
// among its merged users.
func TestSeedStory(t *testing.T) {
	eachStore(t, Config{}, func(t *testing.T, e *env) {
		a, b := e.seedAccounts()
		ctx := t.Context()
		err := e.Store.Update(ctx, func(tx store.Tx) error {
			if err := tx.Links().Create(ctx, &identity.Link{Source: "ldap:ent", ExternalID: "b-uid", AccountID: b.ID, Status: identity.LinkActive}); err != nil {
				return err
			}
			return tx.Record(ctx, store.Event{Type: "test.linked", Actor: "test", AccountID: b.ID})
		})
		if err != nil {
			t.Fatal(err)
		}
		// B is also logged in in a browser: the merge ends that session.
		bBrowser := e.Browser()
		bBrowser.Login("franck.cavel3", "pw")

		// Step 1, on B: generate the key (the browser's session works as
		// well as a token).
		p := bBrowser.PostJSON("/api/v1/me/merge-key", nil)
		flowstest.WantStatus(t, p, http.StatusCreated)
		var gen struct {
			Key       string    `json:"key"`
			ExpiresAt time.Time `json:"expires_at"`
		}
		if err := json.Unmarshal([]byte(p.Body), &gen); err != nil {
			t.Fatal(err)
		}
		if !keyFormat.MatchString(gen.Key) {
			t.Fatalf("key %q is not XXXX-XXXX-XXXX-XXXX-XXXX in Crockford base32", gen.Key)
		}
		if want := e.Clock.Now().Add(24 * time.Hour); !gen.ExpiresAt.Equal(want) {
			t.Fatalf("expires_at %s, want %s", gen.ExpiresAt, want)
		}
		if cc := p.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", cc)
		}
		// Stored hashed, nowhere in clear.
		var pending []store.OneTimeToken
		err = e.Store.View(ctx, func(tx store.Tx) error {
			var err error
			pending, err = tx.Tokens().ListPending(ctx, b.ID, e.Clock.Now())
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		norm := strings.ReplaceAll(gen.Key, "-", "")
		if len(pending) != 1 || pending[0].Purpose != store.PurposeMergeKey || string(pending[0].Hash) != string(keyHash(norm)) || len(pending[0].Data) != 0 {
			t.Fatalf("pending tokens of B: %+v", pending)
		}
		created := e.events(EventKeyCreated)
		if len(created) != 1 || created[0].AccountID != b.ID || strings.Contains(string(created[0].Data), norm) ||
			strings.Contains(string(created[0].Data), gen.Key) {
			t.Fatalf("merge_key.created events: %+v", created)
		}

		// Step 2, on A: paste it, as typed by hand (lower case, spaces
		// for dashes, O for 0).
		typed := strings.ToLower(strings.ReplaceAll(strings.ReplaceAll(gen.Key, "-", " "), "0", "O"))
		for range 2 { // a preview uses nothing
			status, prev := e.api(a.ID, http.MethodPost, "/api/v1/me/merge", map[string]any{"key": typed})
			if status != http.StatusOK {
				t.Fatalf("preview: %d %v", status, prev)
			}
			retired := prev["retired"].(map[string]any)
			survivor := prev["survivor"].(map[string]any)
			if retired["login"] != "franck.cavel3" || retired["id"] != b.ID || survivor["id"] != a.ID || survivor["login"] != "franck.cavel" {
				t.Fatalf("preview accounts: survivor %v, retired %v", survivor, retired)
			}
			if emails := retired["emails"].([]any); len(emails) != 1 || emails[0] != "romain.gentef@opendigitaleducation.com" {
				t.Fatalf("preview shows B's addresses as %v", emails)
			}
			plan := prev["preview"].(map[string]any)
			fields := map[string]map[string]any{}
			for _, f := range plan["fields"].([]any) {
				f := f.(map[string]any)
				fields[f["field"].(string)] = f
			}
			bd := fields[identity.FieldBirthDate]
			if bd == nil || bd["survivor"] != "1978-06-01" || bd["retired"] != "1984-10-17" || bd["value"] == "" {
				t.Fatalf("preview of birth_date: %v (fields %v)", bd, plan["fields"])
			}
			if links := plan["links"].([]any); len(links) != 1 {
				t.Fatalf("preview moves links %v, want B's link", links)
			}
		}
		if n := len(e.events(identity.EventAccountMerged)); n != 0 {
			t.Fatalf("the preview merged: %d account.merged events", n)
		}

		// Step 3: confirm.
		status, out := e.api(a.ID, http.MethodPost, "/api/v1/me/merge", map[string]any{"key": gen.Key, "confirm": true})
		if status != http.StatusOK || out["merge_id"] == "" || out["survivor_id"] != a.ID || out["retired_id"] != b.ID || out["retired_login"] != "franck.cavel3" {
			t.Fatalf("merge: %d %v", status, out)
		}
		mergeID := out["merge_id"].(string)

		// B is merged into A, which has B's address and link.
		if got := e.Account(b.ID); got.Status != identity.StatusMerged || got.MergedInto != a.ID {
			t.Fatalf("B after the merge: %s, merged into %q", got.Status, got.MergedInto)
		}
		err = e.Store.View(ctx, func(tx store.Tx) error {
			if _, err := tx.Emails().Get(ctx, a.ID, "romain.gentef@opendigitaleducation.com"); err != nil {
				return err
			}
			l, err := tx.Links().Get(ctx, "ldap:ent", "b-uid")
			if err == nil && l.AccountID != a.ID {
				t.Errorf("B's link belongs to %s, want A", l.AccountID)
			}
			rec, err := tx.Merges().Get(ctx, mergeID)
			if err == nil && (rec.Reason != identity.MergeByKey || rec.Actor != "account:"+a.ID) {
				t.Errorf("merge record: reason %s, actor %s", rec.Reason, rec.Actor)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}

		// A lists B's login among its merged users.
		status, out = e.api(a.ID, http.MethodGet, "/api/v1/me/merged-users", nil)
		users, _ := out["merged_users"].([]any)
		if status != http.StatusOK || len(users) != 1 {
			t.Fatalf("merged users: %d %v", status, out)
		}
		if u := users[0].(map[string]any); u["login"] != "franck.cavel3" || u["id"] != b.ID || u["merge_id"] != mergeID || u["reason"] != "key" {
			t.Fatalf("merged user %v", u)
		}

		// Events: the key used, the merge, in the audit log.
		used := e.events(EventKeyUsed)
		if len(used) != 1 || used[0].AccountID != b.ID || !strings.Contains(string(used[0].Data), mergeID) {
			t.Fatalf("merge_key.used events: %+v", used)
		}
		if merged := e.events(identity.EventAccountMerged); len(merged) != 1 || merged[0].Actor != "account:"+a.ID {
			t.Fatalf("account.merged events: %+v", merged)
		}
		storetest.CheckInvariants(t, e.Store)

		// B's session ended with the merge.
		if p := bBrowser.Get("/api/v1/me/merged-users"); p.Status != http.StatusUnauthorized {
			t.Fatalf("B's session after the merge: %d, want 401", p.Status)
		}
		// The key is spent.
		status, out = e.api(a.ID, http.MethodPost, "/api/v1/me/merge", map[string]any{"key": gen.Key, "confirm": true})
		if status != http.StatusNotFound || out["error"] != ErrInvalidKey.Error() {
			t.Fatalf("reused key: %d %v", status, out)
		}
	})
}

// TestRegenerate: a new key voids the previous one; one key at a time.
func TestRegenerate(t *testing.T) {
	eachStore(t, Config{}, func(t *testing.T, e *env) {
		a, b := e.seedAccounts()
		first := e.generate(b.ID)
		e.Clock.Advance(time.Minute)
		second := e.generate(b.ID)
		if first == second {
			t.Fatal("two keys are equal")
		}
		status, out := e.api(a.ID, http.MethodPost, "/api/v1/me/merge", map[string]any{"key": first})
		if status != http.StatusNotFound || out["error"] != ErrInvalidKey.Error() {
			t.Fatalf("the voided key: %d %v", status, out)
		}
		if status, out := e.api(a.ID, http.MethodPost, "/api/v1/me/merge", map[string]any{"key": second}); status != http.StatusOK {
			t.Fatalf("the new key: %d %v", status, out)
		}
		exp, ok, err := e.svc.ActiveKey(t.Context(), b.ID)
		if err != nil || !ok || !exp.Equal(e.Clock.Now().Add(24*time.Hour)) {
			t.Fatalf("ActiveKey = %s, %v, %v", exp, ok, err)
		}
		created := e.events(EventKeyCreated)
		if len(created) != 2 {
			t.Fatalf("%d merge_key.created events, want 2", len(created))
		}
		for i, want := range []float64{1, 0} { // newest first
			var data map[string]any
			if err := json.Unmarshal(created[i].Data, &data); err != nil || data["replaced"] != want {
				t.Fatalf("merge_key.created data %s, want replaced %v", created[i].Data, want)
			}
		}
	})
}

// TestExpiry: a key works for 24 hours, not one second more.
func TestExpiry(t *testing.T) {
	eachStore(t, Config{}, func(t *testing.T, e *env) {
		a, b := e.seedAccounts()
		key := e.generate(b.ID)
		e.Clock.Advance(24*time.Hour - time.Second)
		if status, out := e.api(a.ID, http.MethodPost, "/api/v1/me/merge", map[string]any{"key": key}); status != http.StatusOK {
			t.Fatalf("preview a second before expiry: %d %v", status, out)
		}
		e.Clock.Advance(time.Second)
		for _, confirm := range []bool{false, true} {
			status, out := e.api(a.ID, http.MethodPost, "/api/v1/me/merge", map[string]any{"key": key, "confirm": confirm})
			if status != http.StatusNotFound || out["error"] != ErrInvalidKey.Error() {
				t.Fatalf("expired key (confirm %v): %d %v", confirm, status, out)
			}
		}
		if got := e.Account(b.ID); got.Status != identity.StatusActive {
			t.Fatalf("B is %s", got.Status)
		}
		if _, ok, _ := e.svc.ActiveKey(t.Context(), b.ID); ok {
			t.Fatal("an expired key is still active")
		}
	})
}

// TestRefusedKeysLookAlike: a key that is reused, expired, forged,
// malformed, replaced, or of an account that is merged or suspended gets
// the same answer; the account's own key and a missing key get their own.
func TestRefusedKeysLookAlike(t *testing.T) {
	eachStore(t, Config{AccountLimit: Limit{Events: 100, Per: time.Minute, Burst: 100}}, func(t *testing.T, e *env) {
		a, b := e.seedAccounts()
		c := e.account("c.martin", "Claire", "Martin", "", "c.martin@example.org")
		d := e.account("d.durand", "Denis", "Durand", "", "d.durand@example.org")
		ctx := t.Context()

		used := e.generate(b.ID)
		if status, out := e.api(a.ID, http.MethodPost, "/api/v1/me/merge", map[string]any{"key": used, "confirm": true}); status != http.StatusOK {
			t.Fatalf("merge: %d %v", status, out)
		}
		expired := e.generate(c.ID)
		e.Clock.Advance(25 * time.Hour)
		replaced := e.generate(c.ID)
		_ = e.generate(c.ID)
		forged := formatKey(newKey())
		// A key of an account no longer live: written straight into the
		// store (a merge voids the keys of the retired account, so this
		// cannot be made otherwise) for B, merged above.
		ofMerged := formatKey(newKey())
		err := e.Store.Update(ctx, func(tx store.Tx) error {
			if err := tx.Tokens().Create(ctx, &store.OneTimeToken{Purpose: store.PurposeMergeKey, Hash: keyHash(strings.ReplaceAll(ofMerged, "-", "")),
				AccountID: b.ID, ExpiresAt: e.Clock.Now().Add(time.Hour)}); err != nil {
				return err
			}
			return tx.Record(ctx, store.Event{Type: "test.token", Actor: "test"})
		})
		if err != nil {
			t.Fatal(err)
		}
		// A key of an account suspended since.
		ofSuspended := e.generate(d.ID)
		err = e.Store.Update(ctx, func(tx store.Tx) error {
			acc, err := tx.Accounts().Get(ctx, d.ID)
			if err != nil {
				return err
			}
			acc.Status = identity.StatusSuspended
			if err := tx.Accounts().Update(ctx, &acc); err != nil {
				return err
			}
			return tx.Record(ctx, store.Event{Type: identity.EventAccountSuspended, Actor: "test", AccountID: d.ID})
		})
		if err != nil {
			t.Fatal(err)
		}

		for _, tc := range []struct{ name, key string }{
			{"reused", used}, {"expired", expired}, {"replaced", replaced}, {"forged", forged},
			{"malformed", "hello"}, {"too long", strings.Repeat("A", 200)}, {"forbidden letter", "UUUU-UUUU-UUUU-UUUU-UUUU"},
			{"of a merged account", ofMerged}, {"of a suspended account", ofSuspended},
		} {
			for _, confirm := range []bool{false, true} {
				status, out := e.api(a.ID, http.MethodPost, "/api/v1/me/merge", map[string]any{"key": tc.key, "confirm": confirm})
				if status != http.StatusNotFound || len(out) != 1 || out["error"] != ErrInvalidKey.Error() {
					t.Errorf("%s key (confirm %v): %d %v", tc.name, confirm, status, out)
				}
			}
		}

		// The account's own key: refused, and left usable.
		own := e.generate(c.ID)
		for _, confirm := range []bool{false, true} {
			status, out := e.api(c.ID, http.MethodPost, "/api/v1/me/merge", map[string]any{"key": own, "confirm": confirm})
			if status != http.StatusBadRequest || out["error"] != ErrOwnKey.Error() {
				t.Errorf("own key (confirm %v): %d %v", confirm, status, out)
			}
		}
		if status, out := e.api(a.ID, http.MethodPost, "/api/v1/me/merge", map[string]any{"key": own}); status != http.StatusOK {
			t.Errorf("the key after its own account tried it: %d %v", status, out)
		}
		// A suspended account may not generate one.
		if status, out := e.api(d.ID, http.MethodPost, "/api/v1/me/merge-key", nil); status != http.StatusConflict || out["error"] != ErrNotMergeable.Error() {
			t.Errorf("generate on a suspended account: %d %v", status, out)
		}
		// Bad requests.
		for _, body := range []any{map[string]any{}, map[string]any{"key": ""}, map[string]any{"key": own, "extra": 1}} {
			if status, out := e.api(a.ID, http.MethodPost, "/api/v1/me/merge", body); status != http.StatusBadRequest {
				t.Errorf("body %v: %d %v", body, status, out)
			}
		}
		// Without a caller.
		for _, path := range []string{"/api/v1/me/merge-key", "/api/v1/me/merge"} {
			if status, _ := e.api("", http.MethodPost, path, map[string]any{"key": own}); status != http.StatusUnauthorized {
				t.Errorf("POST %s without a caller: %d", path, status)
			}
		}
		if n := len(e.events(identity.EventAccountMerged)); n != 1 {
			t.Fatalf("%d merges, want 1", n)
		}
		storetest.CheckInvariants(t, e.Store)
	})
}

// TestConcurrentConfirms: many confirmations of one key at once, from two
// accounts, make exactly one merge; the others are refused as a used key.
func TestConcurrentConfirms(t *testing.T) {
	eachStore(t, Config{}, func(t *testing.T, e *env) {
		a, b := e.seedAccounts()
		c := e.account("c.martin", "Claire", "Martin", "", "c.martin@example.org")
		key := e.generate(b.ID)
		const n = 8
		var wg sync.WaitGroup
		var mu sync.Mutex
		statuses := map[int]int{}
		var winner string
		for i := range n {
			survivor := a.ID
			if i%2 == 1 {
				survivor = c.ID
			}
			wg.Go(func() {
				status, out := e.api(survivor, http.MethodPost, "/api/v1/me/merge", map[string]any{"key": key, "confirm": true})
				mu.Lock()
				defer mu.Unlock()
				statuses[status]++
				switch status {
				case http.StatusOK:
					winner = survivor
				case http.StatusNotFound:
					if out["error"] != ErrInvalidKey.Error() {
						t.Errorf("loser: %v", out)
					}
				}
			})
		}
		wg.Wait()
		if statuses[http.StatusOK] != 1 || statuses[http.StatusNotFound] != n-1 {
			t.Fatalf("statuses %v, want one 200 and %d 404", statuses, n-1)
		}
		if got := e.Account(b.ID); got.MergedInto != winner {
			t.Fatalf("B merged into %q, want %q", got.MergedInto, winner)
		}
		if m := e.events(identity.EventAccountMerged); len(m) != 1 {
			t.Fatalf("%d account.merged events", len(m))
		}
		storetest.CheckInvariants(t, e.Store)
	})
}

// TestConcurrentGenerate: keys generated at once leave one active key.
func TestConcurrentGenerate(t *testing.T) {
	eachStore(t, Config{}, func(t *testing.T, e *env) {
		_, b := e.seedAccounts()
		var wg sync.WaitGroup
		for range 6 {
			wg.Go(func() {
				if _, _, err := e.svc.Generate(t.Context(), b.ID); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		var pending []store.OneTimeToken
		err := e.Store.View(t.Context(), func(tx store.Tx) error {
			var err error
			pending, err = tx.Tokens().ListPending(t.Context(), b.ID, e.Clock.Now())
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(pending) != 1 {
			t.Fatalf("%d pending keys, want 1", len(pending))
		}
	})
}

// TestRateLimit: failed redemptions are limited per account and per client
// address (429 with Retry-After); successful ones do not count.
func TestRateLimit(t *testing.T) {
	cfg := Config{
		AccountLimit: Limit{Events: 1, Per: time.Hour, Burst: 3},
		IPLimit:      Limit{Events: 1, Per: time.Hour, Burst: 5},
	}
	eachStore(t, cfg, func(t *testing.T, e *env) {
		a, b := e.seedAccounts()
		c := e.account("c.martin", "Claire", "Martin", "", "c.martin@example.org")
		key := e.generate(b.ID)
		// Successful previews do not count.
		for range 5 {
			if status, out := e.api(a.ID, http.MethodPost, "/api/v1/me/merge", map[string]any{"key": key}); status != http.StatusOK {
				t.Fatalf("preview: %d %v", status, out)
			}
		}
		// Per account: 3 failures, then 429, even with the good key.
		for range 3 {
			if status, _ := e.api(a.ID, http.MethodPost, "/api/v1/me/merge", map[string]any{"key": formatKey(newKey())}); status != http.StatusNotFound {
				t.Fatalf("forged key: %d", status)
			}
		}
		for _, k := range []string{formatKey(newKey()), key} {
			req := map[string]any{"key": k, "confirm": true}
			status, out := e.api(a.ID, http.MethodPost, "/api/v1/me/merge", req)
			if status != http.StatusTooManyRequests || !strings.Contains(out["error"].(string), "too many") {
				t.Fatalf("after 3 failures: %d %v", status, out)
			}
		}
		// Per address: C's 2 failures exhaust the address's 5.
		for range 2 {
			if status, _ := e.api(c.ID, http.MethodPost, "/api/v1/me/merge", map[string]any{"key": formatKey(newKey())}); status != http.StatusNotFound {
				t.Fatalf("forged key from C: %d", status)
			}
		}
		p := postJSON(t, e, c.ID, "/api/v1/me/merge", map[string]any{"key": key})
		if p.Status != http.StatusTooManyRequests || p.Header.Get("Retry-After") == "" {
			t.Fatalf("C after the address's 5 failures: %d (Retry-After %q)", p.Status, p.Header.Get("Retry-After"))
		}
		// An hour later, one token is back for each.
		e.Clock.Advance(time.Hour)
		if status, out := e.api(a.ID, http.MethodPost, "/api/v1/me/merge", map[string]any{"key": key, "confirm": true}); status != http.StatusOK {
			t.Fatalf("an hour later: %d %v", status, out)
		}
		if got := e.Account(b.ID); got.MergedInto != a.ID {
			t.Fatalf("B merged into %q", got.MergedInto)
		}
	})
}

// postJSON calls the API as an account and returns the raw answer.
func postJSON(t *testing.T, e *env, accountID, path string, body any) flowstest.Page {
	t.Helper()
	b := e.Browser()
	b.Header.Set("Authorization", "Bearer token-"+accountID)
	data, _ := json.Marshal(body)
	return b.Do(http.MethodPost, path, "", strings.NewReader(string(data)))
}

// TestStaleConfirm: a confirmation that names the versions its preview
// showed is refused (409, key left unused) when an account changed since.
func TestStaleConfirm(t *testing.T) {
	eachStore(t, Config{}, func(t *testing.T, e *env) {
		a, b := e.seedAccounts()
		key := e.generate(b.ID)
		status, prev := e.api(a.ID, http.MethodPost, "/api/v1/me/merge", map[string]any{"key": key})
		if status != http.StatusOK {
			t.Fatalf("preview: %d %v", status, prev)
		}
		sv := prev["survivor"].(map[string]any)["version"].(float64)
		rv := prev["retired"].(map[string]any)["version"].(float64)
		ctx := t.Context()
		err := e.Store.Update(ctx, func(tx store.Tx) error {
			acc, err := tx.Accounts().Get(ctx, b.ID)
			if err != nil {
				return err
			}
			acc.DisplayName = "Franck C."
			if err := tx.Accounts().Update(ctx, &acc); err != nil {
				return err
			}
			return tx.Record(ctx, store.Event{Type: identity.EventAccountUpdated, Actor: "test", AccountID: b.ID})
		})
		if err != nil {
			t.Fatal(err)
		}
		body := map[string]any{"key": key, "confirm": true, "survivor_version": sv, "retired_version": rv}
		if status, out := e.api(a.ID, http.MethodPost, "/api/v1/me/merge", body); status != http.StatusConflict {
			t.Fatalf("stale confirm: %d %v", status, out)
		}
		if status, out := e.api(a.ID, http.MethodPost, "/api/v1/me/merge", map[string]any{"key": key, "confirm": true}); status != http.StatusOK {
			t.Fatalf("confirm after the refusal: %d %v", status, out)
		}
	})
}

// TestMergedUsersChain: merged users lists the standing merges into the
// account, whatever their reason, and not undone ones.
func TestMergedUsers(t *testing.T) {
	eachStore(t, Config{}, func(t *testing.T, e *env) {
		a, b := e.seedAccounts()
		c := e.account("c.martin", "Claire", "Martin", "", "c.martin@example.org")
		if _, err := e.svc.Merge(t.Context(), a.ID, e.generate(b.ID), "account:"+a.ID); err != nil {
			t.Fatal(err)
		}
		e.Clock.Advance(time.Minute)
		rec, err := e.accts.Merge(t.Context(), accountsMerge(a.ID, c.ID))
		if err != nil {
			t.Fatal(err)
		}
		users, err := e.svc.MergedUsers(t.Context(), a.ID)
		if err != nil {
			t.Fatal(err)
		}
		var logins []string
		for _, u := range users {
			logins = append(logins, u.Login)
		}
		if !slices.Equal(logins, []string{"c.martin", "franck.cavel3"}) {
			t.Fatalf("merged users %v, want c.martin then franck.cavel3", logins)
		}
		if _, err := e.accts.Undo(t.Context(), rec.ID, "test"); err != nil {
			t.Fatal(err)
		}
		if users, _ := e.svc.MergedUsers(t.Context(), a.ID); len(users) != 1 || users[0].Login != "franck.cavel3" {
			t.Fatalf("after the undo: %+v", users)
		}
		if users, _ := e.svc.MergedUsers(t.Context(), c.ID); len(users) != 0 {
			t.Fatalf("C's merged users: %+v", users)
		}
	})
}
