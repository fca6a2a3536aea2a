package storetest

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

// The OpenID provider's aggregates: authorization requests, access and
// refresh tokens, signing keys, login sessions.

// oidcNow is the clock of these tests: the store compares the times it is
// given, never its own.
var oidcNow = time.Date(2026, 3, 29, 10, 0, 0, 0, time.UTC)

// count runs a counting write (a revocation, a sweep) in a transaction that
// records an event, failing t on error.
func count(t testing.TB, st store.Store, fn func(tx store.Tx) (int, error)) int {
	t.Helper()
	var n int
	update(t, st, func(tx store.Tx) error {
		var err error
		n, err = fn(tx)
		return err
	})
	return n
}

func testAuthRequests(t *testing.T, st store.Store, _ Options) {
	a := newAccount(t, st, "a")
	now := oidcNow
	r := store.AuthRequest{ClientID: "lms", Request: []byte(`{"redirect_uri":"https://lms.example/cb","state":"s"}`),
		CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
	update(t, st, func(tx store.Tx) error { return tx.AuthRequests().Create(ctx, &r) })
	if r.ID == "" {
		t.Fatal("Create set no id")
	}
	get := func(id string, at time.Time) (store.AuthRequest, error) {
		var got store.AuthRequest
		err := st.View(ctx, func(tx store.Tx) error {
			var err error
			got, err = tx.AuthRequests().Get(ctx, id, at)
			return err
		})
		return got, err
	}
	byCode := func(h []byte, at time.Time) (store.AuthRequest, error) {
		var got store.AuthRequest
		err := st.View(ctx, func(tx store.Tx) error {
			var err error
			got, err = tx.AuthRequests().GetByCode(ctx, h, at)
			return err
		})
		return got, err
	}
	got, err := get(r.ID, r.ExpiresAt.Add(-time.Microsecond))
	fatalIf(t, err)
	if got.ClientID != "lms" || !bytes.Equal(got.Request, r.Request) || got.AccountID != "" || !got.AuthTime.IsZero() ||
		got.AMR != nil || got.CodeHash != nil || !got.CreatedAt.Equal(now) || !got.ExpiresAt.Equal(r.ExpiresAt) {
		t.Fatalf("Get = %+v", got)
	}
	// Expired at ExpiresAt; unknown ids.
	_, err = get(r.ID, r.ExpiresAt)
	wantErr(t, err, store.ErrNotFound)
	_, err = get("nope", now)
	wantErr(t, err, store.ErrNotFound)
	wantDuplicateErr(t, updateErr(st, func(tx store.Tx) error {
		return tx.AuthRequests().Create(ctx, &store.AuthRequest{ID: r.ID, ClientID: "lms", Request: []byte("{}"), ExpiresAt: r.ExpiresAt})
	}))
	for _, bad := range []store.AuthRequest{
		{Request: []byte("{}"), ExpiresAt: r.ExpiresAt},
		{ClientID: "lms", ExpiresAt: r.ExpiresAt},
		{ClientID: "lms", Request: []byte("{}")},
	} {
		if err := updateErr(st, func(tx store.Tx) error { return tx.AuthRequests().Create(ctx, &bad) }); err == nil {
			t.Errorf("Create accepted %+v", bad)
		}
	}

	// A code of a request nobody logged in for is not found.
	code := randomHash()
	update(t, st, func(tx store.Tx) error { return tx.AuthRequests().SetCode(ctx, r.ID, code) })
	_, err = byCode(code, now)
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, updateErr(st, func(tx store.Tx) error { return tx.AuthRequests().SetCode(ctx, "nope", randomHash()) }), store.ErrNotFound)
	wantErr(t, updateErr(st, func(tx store.Tx) error {
		return tx.AuthRequests().Complete(ctx, "nope", a.ID, now, nil)
	}), store.ErrNotFound)
	wantErr(t, updateErr(st, func(tx store.Tx) error {
		return tx.AuthRequests().Complete(ctx, r.ID, "missing", now, nil)
	}), store.ErrInvalidReference)

	authTime := now.Add(2 * time.Minute)
	update(t, st, func(tx store.Tx) error {
		return tx.AuthRequests().Complete(ctx, r.ID, a.ID, authTime, []string{"pwd", "otp"})
	})
	got, err = byCode(code, r.ExpiresAt.Add(-time.Microsecond))
	fatalIf(t, err)
	if got.ID != r.ID || got.AccountID != a.ID || !got.AuthTime.Equal(authTime) || !slices.Equal(got.AMR, []string{"pwd", "otp"}) ||
		!bytes.Equal(got.CodeHash, code) {
		t.Fatalf("GetByCode = %+v", got)
	}
	_, err = byCode(code, r.ExpiresAt)
	wantErr(t, err, store.ErrNotFound)
	_, err = byCode(randomHash(), now)
	wantErr(t, err, store.ErrNotFound)

	// A code hash is unique.
	other := store.AuthRequest{ClientID: "wiki", Request: []byte("{}"), ExpiresAt: now.Add(time.Hour)}
	update(t, st, func(tx store.Tx) error { return tx.AuthRequests().Create(ctx, &other) })
	wantDuplicateErr(t, updateErr(st, func(tx store.Tx) error { return tx.AuthRequests().SetCode(ctx, other.ID, code) }))

	// A code is single-use.
	update(t, st, func(tx store.Tx) error { return tx.AuthRequests().Delete(ctx, r.ID) })
	wantErr(t, updateErr(st, func(tx store.Tx) error { return tx.AuthRequests().Delete(ctx, r.ID) }), store.ErrNotFound)
	_, err = byCode(code, now)
	wantErr(t, err, store.ErrNotFound)

	// DeleteExpired removes the requests expired at now, the boundary
	// included.
	for _, ttl := range []time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute} {
		update(t, st, func(tx store.Tx) error {
			return tx.AuthRequests().Create(ctx, &store.AuthRequest{ClientID: "lms", Request: []byte("{}"), ExpiresAt: now.Add(ttl)})
		})
	}
	if n := count(t, st, func(tx store.Tx) (int, error) { return tx.AuthRequests().DeleteExpired(ctx, now.Add(2*time.Minute)) }); n != 2 {
		t.Fatalf("DeleteExpired removed %d requests, want 2", n)
	}
	// A sweep that finds nothing changed nothing: it needs no event.
	fatalIf(t, st.Update(ctx, func(tx store.Tx) error {
		n, err := tx.AuthRequests().DeleteExpired(ctx, now.Add(2*time.Minute))
		if err == nil && n != 0 {
			t.Errorf("second DeleteExpired removed %d", n)
		}
		return err
	}))
	if _, err := get(other.ID, now); err != nil {
		t.Fatalf("DeleteExpired removed a live request: %v", err)
	}
}

// race runs fn in n concurrent transactions and returns their errors. When
// writers are concurrent, every transaction first runs before (the read of
// a read-modify-write) and waits for the others to have read too, so that
// they all decide on the same state and race in fn; with one writer at a
// time (SQLite) they simply queue.
func race(st store.Store, opts Options, n int, before, fn func(tx store.Tx) error) []error {
	var ready, wg sync.WaitGroup
	ready.Add(n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			first := true
			errs[i] = updateErr(st, func(tx store.Tx) error {
				if err := before(tx); err != nil {
					return err
				}
				if opts.ConcurrentWriters && first { // a retried closure must not wait twice
					first = false
					ready.Done()
					ready.Wait()
				}
				return fn(tx)
			})
			if first && opts.ConcurrentWriters { // failed before the barrier
				ready.Done()
			}
		})
	}
	wg.Wait()
	return errs
}

// testAuthRequestRace exchanges one code from several transactions that
// all found the request: exactly one deletes it.
func testAuthRequestRace(t *testing.T, st store.Store, opts Options) {
	a := newAccount(t, st, "a")
	code := randomHash()
	now := time.Now()
	r := store.AuthRequest{ClientID: "lms", Request: []byte("{}"), ExpiresAt: now.Add(time.Hour)}
	update(t, st, func(tx store.Tx) error {
		if err := tx.AuthRequests().Create(ctx, &r); err != nil {
			return err
		}
		if err := tx.AuthRequests().Complete(ctx, r.ID, a.ID, now, []string{"pwd"}); err != nil {
			return err
		}
		return tx.AuthRequests().SetCode(ctx, r.ID, code)
	})
	errs := race(st, opts, 6, func(tx store.Tx) error {
		// Concurrent writers all read the request before any deletes it;
		// serialised ones find it gone but the first time.
		got, err := tx.AuthRequests().GetByCode(ctx, code, now)
		if opts.ConcurrentWriters && (err != nil || got.ID != r.ID) {
			t.Errorf("GetByCode before any exchange: %s, %v", got.ID, err)
		}
		return nil
	}, func(tx store.Tx) error { return tx.AuthRequests().Delete(ctx, r.ID) })
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, store.ErrNotFound):
			t.Errorf("exchange: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d exchanges of one code succeeded, want 1", wins)
	}
}

func testOAuthTokens(t *testing.T, st store.Store, _ Options) {
	a, b := newAccount(t, st, "a"), newAccount(t, st, "b")
	now := oidcNow
	h1 := randomHash()
	r1 := store.OAuthToken{Kind: store.TokenRefresh, Hash: h1, FamilyID: "f1", AccountID: a.ID, ClientID: "lms",
		Scopes: []string{"openid", "profile", "offline_access"}, Audience: []string{"lms"}, AMR: []string{"pwd"},
		AuthTime: now.Add(-time.Minute), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	access := store.OAuthToken{Kind: store.TokenAccess, FamilyID: "f1", AccountID: a.ID, ClientID: "lms",
		Scopes: []string{"openid"}, ExpiresAt: now.Add(5 * time.Minute)}
	machine := store.OAuthToken{Kind: store.TokenAccess, FamilyID: "f-cc", ClientID: "batch", ExpiresAt: now.Add(10 * time.Minute)}
	update(t, st, func(tx store.Tx) error {
		for _, tok := range []*store.OAuthToken{&r1, &access, &machine} {
			if err := tx.OAuthTokens().Create(ctx, tok); err != nil {
				return err
			}
		}
		return nil
	})
	get := func(id string) store.OAuthToken {
		t.Helper()
		return view(t, st, func(tx store.Tx) (store.OAuthToken, error) { return tx.OAuthTokens().Get(ctx, id) })
	}
	got := get(r1.ID)
	if got.Kind != store.TokenRefresh || !bytes.Equal(got.Hash, h1) || got.FamilyID != "f1" || got.AccountID != a.ID ||
		got.ClientID != "lms" || !slices.Equal(got.Scopes, r1.Scopes) || !slices.Equal(got.Audience, []string{"lms"}) ||
		!slices.Equal(got.AMR, []string{"pwd"}) || !got.AuthTime.Equal(r1.AuthTime) || !got.CreatedAt.Equal(now) ||
		!got.ExpiresAt.Equal(r1.ExpiresAt) || !got.UsedAt.IsZero() || !got.RevokedAt.IsZero() {
		t.Fatalf("Get = %+v, want %+v", got, r1)
	}
	byHash := view(t, st, func(tx store.Tx) (store.OAuthToken, error) { return tx.OAuthTokens().GetByHash(ctx, h1) })
	if byHash.ID != r1.ID {
		t.Fatalf("GetByHash found %s, want %s", byHash.ID, r1.ID)
	}
	if got := get(access.ID); got.Kind != store.TokenAccess || got.Hash != nil || got.Audience != nil || !got.AuthTime.IsZero() {
		t.Fatalf("access token: %+v", got)
	}
	if got := get(machine.ID); got.AccountID != "" || got.ClientID != "batch" {
		t.Fatalf("client_credentials token: %+v", got)
	}
	wantErr(t, st.View(ctx, func(tx store.Tx) error { _, err := tx.OAuthTokens().Get(ctx, "nope"); return err }), store.ErrNotFound)
	wantErr(t, st.View(ctx, func(tx store.Tx) error { _, err := tx.OAuthTokens().GetByHash(ctx, randomHash()); return err }), store.ErrNotFound)

	// Uniqueness, references, required fields.
	wantDuplicateErr(t, updateErr(st, func(tx store.Tx) error {
		return tx.OAuthTokens().Create(ctx, &store.OAuthToken{Kind: store.TokenRefresh, Hash: h1, FamilyID: "f9", ClientID: "lms", ExpiresAt: now.Add(time.Hour)})
	}))
	wantDuplicateErr(t, updateErr(st, func(tx store.Tx) error {
		return tx.OAuthTokens().Create(ctx, &store.OAuthToken{ID: access.ID, Kind: store.TokenAccess, FamilyID: "f9", ClientID: "lms", ExpiresAt: now.Add(time.Hour)})
	}))
	wantErr(t, updateErr(st, func(tx store.Tx) error {
		return tx.OAuthTokens().Create(ctx, &store.OAuthToken{Kind: store.TokenAccess, FamilyID: "f9", AccountID: "missing", ClientID: "lms", ExpiresAt: now.Add(time.Hour)})
	}), store.ErrInvalidReference)
	for _, bad := range []store.OAuthToken{
		{Kind: store.TokenRefresh, FamilyID: "f9", ClientID: "lms", ExpiresAt: now.Add(time.Hour)}, // no hash
		{Kind: "id", FamilyID: "f9", ClientID: "lms", ExpiresAt: now.Add(time.Hour)},
		{Kind: store.TokenAccess, ClientID: "lms", ExpiresAt: now.Add(time.Hour)},
		{Kind: store.TokenAccess, FamilyID: "f9", ExpiresAt: now.Add(time.Hour)},
		{Kind: store.TokenAccess, FamilyID: "f9", ClientID: "lms"},
	} {
		if err := updateErr(st, func(tx store.Tx) error { return tx.OAuthTokens().Create(ctx, &bad) }); err == nil {
			t.Errorf("Create accepted %+v", bad)
		}
	}

	// MarkUsed succeeds once.
	markUsed := func(id string, at time.Time) (bool, error) {
		var did bool
		err := updateErr(st, func(tx store.Tx) error {
			var err error
			did, err = tx.OAuthTokens().MarkUsed(ctx, id, at)
			return err
		})
		return did, err
	}
	usedAt := now.Add(30 * time.Minute)
	if did, err := markUsed(r1.ID, usedAt); err != nil || !did {
		t.Fatalf("first MarkUsed = %t, %v; want true", did, err)
	}
	if did, err := markUsed(r1.ID, usedAt.Add(time.Minute)); err != nil || did {
		t.Fatalf("second MarkUsed = %t, %v; want false", did, err)
	}
	if got := get(r1.ID); !got.UsedAt.Equal(usedAt) {
		t.Fatalf("UsedAt = %v, want the first use %v", got.UsedAt, usedAt)
	}
	_, err := markUsed("nope", usedAt)
	wantErr(t, err, store.ErrNotFound)
	_, err = markUsed(access.ID, usedAt) // access tokens are not used up
	wantErr(t, err, store.ErrNotFound)

	// Revocations. Family f1: r1, access, r2; f2: r3 (a, wiki); f3: r4
	// (b, lms); f4: r5 (a, lms); f5: r6 (a, wiki).
	mk := func(family, account, client string) store.OAuthToken {
		tok := store.OAuthToken{Kind: store.TokenRefresh, Hash: randomHash(), FamilyID: family, AccountID: account, ClientID: client,
			CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		update(t, st, func(tx store.Tx) error { return tx.OAuthTokens().Create(ctx, &tok) })
		return tok
	}
	mk("f1", a.ID, "lms")
	r3 := mk("f2", a.ID, "wiki")
	mk("f3", b.ID, "lms")
	mk("f4", a.ID, "lms")
	mk("f5", a.ID, "wiki")
	revokedAt := now.Add(40 * time.Minute)
	if n := count(t, st, func(tx store.Tx) (int, error) { return tx.OAuthTokens().RevokeFamily(ctx, "f1", revokedAt) }); n != 3 {
		t.Fatalf("RevokeFamily(f1) revoked %d, want 3", n)
	}
	if got := get(access.ID); !got.RevokedAt.Equal(revokedAt) {
		t.Fatalf("the family's access token: RevokedAt = %v", got.RevokedAt)
	}
	if n := count(t, st, func(tx store.Tx) (int, error) { return tx.OAuthTokens().RevokeFamily(ctx, "f1", revokedAt) }); n != 0 {
		t.Fatalf("RevokeFamily(f1) again revoked %d, want 0", n)
	}
	update(t, st, func(tx store.Tx) error { return tx.OAuthTokens().Revoke(ctx, r3.ID, revokedAt) })
	update(t, st, func(tx store.Tx) error { return tx.OAuthTokens().Revoke(ctx, r3.ID, revokedAt.Add(time.Minute)) })
	if got := get(r3.ID); !got.RevokedAt.Equal(revokedAt) {
		t.Fatalf("RevokedAt after a second Revoke = %v, want the first %v", got.RevokedAt, revokedAt)
	}
	wantErr(t, updateErr(st, func(tx store.Tx) error { return tx.OAuthTokens().Revoke(ctx, "nope", revokedAt) }), store.ErrNotFound)
	for _, c := range []struct {
		account, client string
		want            int
	}{
		{a.ID, "lms", 1}, // r5
		{a.ID, "", 1},    // r6 (r3 revoked already)
		{a.ID, "", 0},
		{b.ID, "wiki", 0},
		{b.ID, "", 1}, // r4
	} {
		if n := count(t, st, func(tx store.Tx) (int, error) {
			return tx.OAuthTokens().RevokeAccount(ctx, c.account, c.client, revokedAt)
		}); n != c.want {
			t.Errorf("RevokeAccount(%s, %q) revoked %d, want %d", c.account, c.client, n, c.want)
		}
	}
	if got := get(machine.ID); !got.RevokedAt.IsZero() {
		t.Fatal("the client_credentials token was revoked with the accounts'")
	}

	// DeleteExpired: access expires at +5m, machine at +10m, the 6 refresh
	// tokens at +1h, revoked or not.
	for _, c := range []struct {
		at   time.Duration
		want int
	}{{5*time.Minute - time.Microsecond, 0}, {5 * time.Minute, 1}, {time.Hour - time.Microsecond, 1}, {time.Hour, 6}} {
		if n := count(t, st, func(tx store.Tx) (int, error) { return tx.OAuthTokens().DeleteExpired(ctx, now.Add(c.at)) }); n != c.want {
			t.Errorf("DeleteExpired(now+%s) removed %d, want %d", c.at, n, c.want)
		}
	}
	wantErr(t, st.View(ctx, func(tx store.Tx) error { _, err := tx.OAuthTokens().Get(ctx, r1.ID); return err }), store.ErrNotFound)
}

// testMarkUsedRace exchanges one refresh token from several transactions
// that all found it unused: exactly one marks it.
func testMarkUsedRace(t *testing.T, st store.Store, opts Options) {
	a := newAccount(t, st, "a")
	h := randomHash()
	now := time.Now()
	tok := store.OAuthToken{Kind: store.TokenRefresh, Hash: h, FamilyID: "f", AccountID: a.ID, ClientID: "lms", ExpiresAt: now.Add(time.Hour)}
	update(t, st, func(tx store.Tx) error { return tx.OAuthTokens().Create(ctx, &tok) })
	var mu sync.Mutex
	wins := 0
	errs := race(st, opts, 6, func(tx store.Tx) error {
		got, err := tx.OAuthTokens().GetByHash(ctx, h)
		if err == nil && opts.ConcurrentWriters && !got.UsedAt.IsZero() {
			t.Errorf("read a used token before the barrier")
		}
		return err
	}, func(tx store.Tx) error {
		did, err := tx.OAuthTokens().MarkUsed(ctx, tok.ID, now)
		if did {
			mu.Lock()
			wins++
			mu.Unlock()
		}
		return err
	})
	for _, err := range errs {
		fatalIf(t, err)
	}
	if wins != 1 {
		t.Fatalf("MarkUsed reported true %d times, want once", wins)
	}
}

func testSigningKeys(t *testing.T, st store.Store, _ Options) {
	now := oidcNow
	key := func(id string, from, until time.Duration) store.SigningKey {
		return store.SigningKey{ID: id, Algorithm: "RS256", PrivateKey: randomHash(), PublicKey: []byte(`{"kty":"RSA","kid":"` + id + `"}`),
			CreatedAt: now, ActiveFrom: now.Add(from), ExpiresAt: now.Add(until)}
	}
	old, cur, next := key("k0", -48*time.Hour, 0), key("k1", 0, 48*time.Hour), key("k2", 24*time.Hour, 72*time.Hour)
	update(t, st, func(tx store.Tx) error {
		for _, k := range []*store.SigningKey{&next, &cur, &old} {
			if err := tx.SigningKeys().Create(ctx, k); err != nil {
				return err
			}
		}
		return nil
	})
	list := func(at time.Time) []store.SigningKey {
		t.Helper()
		return view(t, st, func(tx store.Tx) ([]store.SigningKey, error) { return tx.SigningKeys().List(ctx, at) })
	}
	ids := func(keys []store.SigningKey) string {
		var out []string
		for _, k := range keys {
			out = append(out, k.ID)
		}
		return strings.Join(out, ",")
	}
	all := list(now.Add(-time.Microsecond))
	if ids(all) != "k0,k1,k2" {
		t.Fatalf("List before k0 expires = %s, want k0,k1,k2 by activation", ids(all))
	}
	if got := all[1]; got.Algorithm != "RS256" || !bytes.Equal(got.PrivateKey, cur.PrivateKey) || !bytes.Equal(got.PublicKey, cur.PublicKey) ||
		!got.CreatedAt.Equal(now) || !got.ActiveFrom.Equal(cur.ActiveFrom) || !got.ExpiresAt.Equal(cur.ExpiresAt) {
		t.Fatalf("List returned %+v, want %+v", got, cur)
	}
	if got := ids(list(now)); got != "k1,k2" {
		t.Fatalf("List at k0's expiry = %s, want k1,k2", got)
	}

	// Two replicas creating the next key: the second one's fails.
	dup := key("k2-other", 24*time.Hour, 96*time.Hour)
	wantDuplicateErr(t, updateErr(st, func(tx store.Tx) error { return tx.SigningKeys().Create(ctx, &dup) }))
	sameID := key("k1", 36*time.Hour, 96*time.Hour)
	wantDuplicateErr(t, updateErr(st, func(tx store.Tx) error { return tx.SigningKeys().Create(ctx, &sameID) }))
	backwards := key("k3", 96*time.Hour, 72*time.Hour)
	if err := updateErr(st, func(tx store.Tx) error { return tx.SigningKeys().Create(ctx, &backwards) }); err == nil {
		t.Fatal("Create accepted a key expiring before its activation")
	}

	if n := count(t, st, func(tx store.Tx) (int, error) { return tx.SigningKeys().DeleteExpired(ctx, now) }); n != 1 {
		t.Fatalf("DeleteExpired removed %d keys, want 1", n)
	}
	if got := ids(list(now.Add(-time.Hour))); got != "k1,k2" {
		t.Fatalf("List after DeleteExpired = %s, want k1,k2", got)
	}
}

func testSessions(t *testing.T, st store.Store, _ Options) {
	a, b := newAccount(t, st, "a"), newAccount(t, st, "b")
	now := oidcNow
	h1 := randomHash()
	s1 := store.Session{Hash: h1, AccountID: a.ID, AMR: []string{"pwd"}, CreatedAt: now, ExpiresAt: now.Add(8 * time.Hour)}
	update(t, st, func(tx store.Tx) error { return tx.Sessions().Create(ctx, &s1) })
	if s1.ID == "" || !s1.AuthTime.Equal(now) || !s1.LastSeenAt.Equal(now) {
		t.Fatalf("Create: %+v, want an id and AuthTime and LastSeenAt at creation", s1)
	}
	byHash := func(h []byte, at time.Time) (store.Session, error) {
		var got store.Session
		err := st.View(ctx, func(tx store.Tx) error {
			var err error
			got, err = tx.Sessions().GetByHash(ctx, h, at)
			return err
		})
		return got, err
	}
	got, err := byHash(h1, s1.ExpiresAt.Add(-time.Microsecond))
	fatalIf(t, err)
	if got.ID != s1.ID || !bytes.Equal(got.Hash, h1) || got.AccountID != a.ID || !slices.Equal(got.AMR, []string{"pwd"}) ||
		!got.AuthTime.Equal(now) || !got.CreatedAt.Equal(now) || !got.LastSeenAt.Equal(now) || !got.ExpiresAt.Equal(s1.ExpiresAt) ||
		!got.RevokedAt.IsZero() {
		t.Fatalf("GetByHash = %+v, want %+v", got, s1)
	}
	_, err = byHash(h1, s1.ExpiresAt)
	wantErr(t, err, store.ErrNotFound)
	_, err = byHash(randomHash(), now)
	wantErr(t, err, store.ErrNotFound)

	wantDuplicateErr(t, updateErr(st, func(tx store.Tx) error {
		return tx.Sessions().Create(ctx, &store.Session{Hash: h1, AccountID: b.ID, ExpiresAt: now.Add(time.Hour)})
	}))
	wantDuplicateErr(t, updateErr(st, func(tx store.Tx) error {
		return tx.Sessions().Create(ctx, &store.Session{ID: s1.ID, Hash: randomHash(), AccountID: b.ID, ExpiresAt: now.Add(time.Hour)})
	}))
	wantErr(t, updateErr(st, func(tx store.Tx) error {
		return tx.Sessions().Create(ctx, &store.Session{Hash: randomHash(), AccountID: "missing", ExpiresAt: now.Add(time.Hour)})
	}), store.ErrInvalidReference)
	for _, bad := range []store.Session{
		{AccountID: a.ID, ExpiresAt: now.Add(time.Hour)},
		{Hash: randomHash(), ExpiresAt: now.Add(time.Hour)},
		{Hash: randomHash(), AccountID: a.ID},
	} {
		if err := updateErr(st, func(tx store.Tx) error { return tx.Sessions().Create(ctx, &bad) }); err == nil {
			t.Errorf("Create accepted %+v", bad)
		}
	}

	// Touch is bookkeeping: no event needed.
	seen := now.Add(2 * time.Hour)
	fatalIf(t, st.Update(ctx, func(tx store.Tx) error { return tx.Sessions().Touch(ctx, s1.ID, seen) }))
	if got, err := byHash(h1, seen); err != nil || !got.LastSeenAt.Equal(seen) {
		t.Fatalf("after Touch: %+v, %v; want LastSeenAt %v", got, err, seen)
	}
	wantErr(t, st.Update(ctx, func(tx store.Tx) error { return tx.Sessions().Touch(ctx, "nope", seen) }), store.ErrNotFound)

	// A revoked session is hidden before it expires.
	revokedAt := now.Add(3 * time.Hour)
	update(t, st, func(tx store.Tx) error { return tx.Sessions().Revoke(ctx, s1.ID, revokedAt) })
	_, err = byHash(h1, seen)
	wantErr(t, err, store.ErrNotFound)
	update(t, st, func(tx store.Tx) error { return tx.Sessions().Revoke(ctx, s1.ID, revokedAt.Add(time.Hour)) })
	wantErr(t, updateErr(st, func(tx store.Tx) error { return tx.Sessions().Revoke(ctx, "nope", revokedAt) }), store.ErrNotFound)

	mk := func(account string, ttl time.Duration) store.Session {
		s := store.Session{Hash: randomHash(), AccountID: account, CreatedAt: now, ExpiresAt: now.Add(ttl)}
		update(t, st, func(tx store.Tx) error { return tx.Sessions().Create(ctx, &s) })
		return s
	}
	mk(a.ID, 8*time.Hour)
	mk(a.ID, 8*time.Hour)
	s4 := mk(b.ID, 8*time.Hour)
	mk(b.ID, time.Hour)
	if n := count(t, st, func(tx store.Tx) (int, error) { return tx.Sessions().RevokeAccount(ctx, a.ID, revokedAt) }); n != 2 {
		t.Fatalf("RevokeAccount revoked %d sessions, want 2", n)
	}
	if n := count(t, st, func(tx store.Tx) (int, error) { return tx.Sessions().RevokeAccount(ctx, a.ID, revokedAt) }); n != 0 {
		t.Fatalf("RevokeAccount again revoked %d sessions, want 0", n)
	}

	// DeleteExpired: b's short session expires at +1h, a's three were
	// revoked at +3h, s4 lives.
	for _, c := range []struct {
		at   time.Duration
		want int
	}{{time.Hour - time.Microsecond, 0}, {time.Hour, 1}, {3*time.Hour - time.Microsecond, 0}, {3 * time.Hour, 3}, {3 * time.Hour, 0}} {
		if n := count(t, st, func(tx store.Tx) (int, error) { return tx.Sessions().DeleteExpired(ctx, now.Add(c.at)) }); n != c.want {
			t.Errorf("DeleteExpired(now+%s) removed %d, want %d", c.at, n, c.want)
		}
	}
	if _, err := byHash(s4.Hash, now.Add(4*time.Hour)); err != nil {
		t.Fatalf("the live session: %v", err)
	}
}

// oidcWrites are the changing writes of the OpenID aggregates, on the rows
// oidcFixture creates.
func oidcWrites(f oidcFixture) []struct {
	name string
	fn   func(tx store.Tx) error
} {
	now := oidcNow
	n := func(_ int, err error) error { return err }
	return []struct {
		name string
		fn   func(tx store.Tx) error
	}{
		{"AuthRequests.Create", func(tx store.Tx) error {
			return tx.AuthRequests().Create(ctx, &store.AuthRequest{ClientID: "lms", Request: []byte("{}"), ExpiresAt: now.Add(time.Hour)})
		}},
		{"AuthRequests.Complete", func(tx store.Tx) error {
			return tx.AuthRequests().Complete(ctx, f.request, f.account, now, []string{"pwd"})
		}},
		{"AuthRequests.SetCode", func(tx store.Tx) error { return tx.AuthRequests().SetCode(ctx, f.request, randomHash()) }},
		{"AuthRequests.Delete", func(tx store.Tx) error { return tx.AuthRequests().Delete(ctx, f.request) }},
		{"AuthRequests.DeleteExpired", func(tx store.Tx) error { return n(tx.AuthRequests().DeleteExpired(ctx, now.Add(48*time.Hour))) }},
		{"OAuthTokens.Create", func(tx store.Tx) error {
			return tx.OAuthTokens().Create(ctx, &store.OAuthToken{Kind: store.TokenAccess, FamilyID: "f", ClientID: "lms", ExpiresAt: now.Add(time.Hour)})
		}},
		{"OAuthTokens.MarkUsed", func(tx store.Tx) error { _, err := tx.OAuthTokens().MarkUsed(ctx, f.token, now); return err }},
		{"OAuthTokens.Revoke", func(tx store.Tx) error { return tx.OAuthTokens().Revoke(ctx, f.token, now) }},
		{"OAuthTokens.RevokeFamily", func(tx store.Tx) error { return n(tx.OAuthTokens().RevokeFamily(ctx, "f", now)) }},
		{"OAuthTokens.RevokeAccount", func(tx store.Tx) error { return n(tx.OAuthTokens().RevokeAccount(ctx, f.account, "", now)) }},
		{"OAuthTokens.DeleteExpired", func(tx store.Tx) error { return n(tx.OAuthTokens().DeleteExpired(ctx, now.Add(48*time.Hour))) }},
		{"SigningKeys.Create", func(tx store.Tx) error {
			return tx.SigningKeys().Create(ctx, &store.SigningKey{Algorithm: "ES256", PrivateKey: []byte("k"), PublicKey: []byte("{}"),
				ActiveFrom: now.Add(time.Hour), ExpiresAt: now.Add(48 * time.Hour)})
		}},
		{"SigningKeys.DeleteExpired", func(tx store.Tx) error { return n(tx.SigningKeys().DeleteExpired(ctx, now.Add(48*time.Hour))) }},
		{"Sessions.Create", func(tx store.Tx) error {
			return tx.Sessions().Create(ctx, &store.Session{Hash: randomHash(), AccountID: f.account, ExpiresAt: now.Add(time.Hour)})
		}},
		{"Sessions.Revoke", func(tx store.Tx) error { return tx.Sessions().Revoke(ctx, f.session, now) }},
		{"Sessions.RevokeAccount", func(tx store.Tx) error { return n(tx.Sessions().RevokeAccount(ctx, f.account, now)) }},
		{"Sessions.DeleteExpired", func(tx store.Tx) error { return n(tx.Sessions().DeleteExpired(ctx, now.Add(48*time.Hour))) }},
	}
}

// oidcFixture is one row of each OpenID aggregate, live, so that every
// write of oidcWrites changes something.
type oidcFixture struct {
	account, request, token, session string
	sessionHash                      []byte
}

func newOIDCFixture(t *testing.T, st store.Store) oidcFixture {
	t.Helper()
	a := newAccount(t, st, "a")
	now := oidcNow
	r := store.AuthRequest{ClientID: "lms", Request: []byte("{}"), ExpiresAt: now.Add(time.Hour)}
	tok := store.OAuthToken{Kind: store.TokenRefresh, Hash: randomHash(), FamilyID: "f", AccountID: a.ID, ClientID: "lms", ExpiresAt: now.Add(time.Hour)}
	s := store.Session{Hash: randomHash(), AccountID: a.ID, ExpiresAt: now.Add(time.Hour)}
	k := store.SigningKey{Algorithm: "ES256", PrivateKey: []byte("k"), PublicKey: []byte("{}"), ActiveFrom: now, ExpiresAt: now.Add(time.Hour)}
	update(t, st, func(tx store.Tx) error {
		return errors.Join(tx.AuthRequests().Create(ctx, &r), tx.OAuthTokens().Create(ctx, &tok),
			tx.Sessions().Create(ctx, &s), tx.SigningKeys().Create(ctx, &k))
	})
	return oidcFixture{account: a.ID, request: r.ID, token: tok.ID, session: s.ID, sessionHash: s.Hash}
}

// testOIDCReadOnly: every write of the OpenID aggregates fails in View.
func testOIDCReadOnly(t *testing.T, st store.Store, _ Options) {
	f := newOIDCFixture(t, st)
	writes := append(oidcWrites(f), struct {
		name string
		fn   func(tx store.Tx) error
	}{"Sessions.Touch", func(tx store.Tx) error { return tx.Sessions().Touch(ctx, f.session, oidcNow) }})
	for _, w := range writes {
		if err := st.View(ctx, w.fn); !errors.Is(err, store.ErrReadOnly) {
			t.Errorf("%s in View: %v, want %v", w.name, err, store.ErrReadOnly)
		}
	}
}

// testOIDCUnrecorded: every write of the OpenID aggregates that changes a
// row needs an event, but Sessions.Touch, bookkeeping, does not.
func testOIDCUnrecorded(t *testing.T, st store.Store, _ Options) {
	f := newOIDCFixture(t, st)
	head := countOutbox(t, st)
	for _, w := range oidcWrites(f) {
		if err := st.Update(ctx, w.fn); !errors.Is(err, store.ErrUnrecorded) {
			t.Errorf("%s without an event: %v, want %v", w.name, err, store.ErrUnrecorded)
		}
	}
	// Nothing was kept.
	now := oidcNow
	fatalIf(t, st.View(ctx, func(tx store.Tx) error {
		r, err := tx.AuthRequests().Get(ctx, f.request, now)
		if err != nil {
			return err
		}
		tok, err := tx.OAuthTokens().Get(ctx, f.token)
		if err != nil {
			return err
		}
		if _, err := tx.Sessions().GetByHash(ctx, f.sessionHash, now); err != nil {
			return err
		}
		keys, err := tx.SigningKeys().List(ctx, now)
		if err != nil {
			return err
		}
		if r.AccountID != "" || r.CodeHash != nil || !tok.UsedAt.IsZero() || !tok.RevokedAt.IsZero() || len(keys) != 1 {
			t.Errorf("refused transactions left changes: request %+v, token %+v, %d keys", r, tok, len(keys))
		}
		return nil
	}))
	if countOutbox(t, st) != head {
		t.Fatal("refused transactions left events")
	}
	fatalIf(t, st.Update(ctx, func(tx store.Tx) error { return tx.Sessions().Touch(ctx, f.session, now) }))
}

// testOIDCInvariants: a merged account may own no live session and no live
// refresh token; revoked ones, expired ones and access tokens do not count.
func testOIDCInvariants(t *testing.T, st store.Store, _ Options) {
	a, b := newAccount(t, st, "a"), newAccount(t, st, "b")
	now := time.Now() // Snapshot reads the store's clock
	session := store.Session{Hash: randomHash(), AccountID: b.ID, ExpiresAt: now.Add(time.Hour)}
	refresh := store.OAuthToken{Kind: store.TokenRefresh, Hash: randomHash(), FamilyID: "f", AccountID: b.ID, ClientID: "lms", ExpiresAt: now.Add(time.Hour)}
	update(t, st, func(tx store.Tx) error {
		return errors.Join(
			tx.Sessions().Create(ctx, &session),
			tx.Sessions().Create(ctx, &store.Session{Hash: randomHash(), AccountID: b.ID, CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)}),
			tx.Sessions().Create(ctx, &store.Session{Hash: randomHash(), AccountID: a.ID, ExpiresAt: now.Add(time.Hour)}),
			tx.OAuthTokens().Create(ctx, &refresh),
			tx.OAuthTokens().Create(ctx, &store.OAuthToken{Kind: store.TokenAccess, FamilyID: "f", AccountID: b.ID, ClientID: "lms", ExpiresAt: now.Add(time.Hour)}),
			tx.OAuthTokens().Create(ctx, &store.OAuthToken{Kind: store.TokenRefresh, Hash: randomHash(), FamilyID: "g", AccountID: b.ID, ClientID: "lms",
				ExpiresAt: now.Add(time.Hour), RevokedAt: now}),
		)
	})
	merge(t, st, a.ID, b.ID)
	snap := view(t, st, func(tx store.Tx) (identity.Snapshot, error) { return tx.Snapshot(ctx) })
	if len(snap.Grants) != 3 {
		t.Fatalf("snapshot grants = %+v, want a's session and b's live session and refresh token", snap.Grants)
	}
	err := identity.CheckInvariants(snap)
	for _, want := range []string{"live session " + session.ID, "live refresh token " + refresh.ID} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("CheckInvariants = %v, want %q of the merged account", err, want)
		}
	}
	update(t, st, func(tx store.Tx) error {
		if _, err := tx.Sessions().RevokeAccount(ctx, b.ID, now); err != nil {
			return err
		}
		_, err := tx.OAuthTokens().RevokeAccount(ctx, b.ID, "", now)
		return err
	})
	CheckInvariants(t, st)
}

// wantDuplicateErr checks that err is a *store.DuplicateError. The field it
// names is not checked: SQLite names the new tables' constraints by their
// columns until store/sqlite maps them.
func wantDuplicateErr(t testing.TB, err error) {
	t.Helper()
	var de *store.DuplicateError
	if !errors.As(err, &de) || !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("got error %v, want a duplicate", err)
	}
}
