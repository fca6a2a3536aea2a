package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/canonid/canonid/server"
	"github.com/canonid/canonid/store"
)

func TestGenerateAPIToken(t *testing.T) {
	t1, h1, err := server.GenerateAPIToken()
	if err != nil {
		t.Fatal(err)
	}
	t2, h2, err := server.GenerateAPIToken()
	if err != nil {
		t.Fatal(err)
	}
	if t1 == t2 || bytes.Equal(h1, h2) {
		t.Error("two generated tokens are equal")
	}
	for _, tc := range []struct {
		token string
		hash  []byte
	}{{t1, h1}, {t2, h2}} {
		rest, ok := strings.CutPrefix(tc.token, "cnd_")
		if !ok {
			t.Errorf("token %q lacks the cnd_ prefix", tc.token)
		}
		if b, err := base64.RawURLEncoding.DecodeString(rest); err != nil || len(b) != 32 {
			t.Errorf("token %q: %d bytes, %v; want 32 bytes of base64url", tc.token, len(b), err)
		}
		sum := sha256.Sum256([]byte(tc.token))
		if !bytes.Equal(tc.hash, sum[:]) {
			t.Errorf("hash of %q is not its SHA-256", tc.token)
		}
		if !bytes.Equal(server.HashAPIToken(tc.token), sum[:]) {
			t.Errorf("HashAPIToken(%q) is not its SHA-256", tc.token)
		}
	}
}

// fakeStore serves Read over a map of API tokens by hash. The embedded
// interfaces are nil: calling anything but APITokens().GetByHash panics.
type fakeStore struct {
	byHash map[string]store.APIToken
	err    error // returned by Read instead of running fn
	reads  *int
}

func (s fakeStore) Read(ctx context.Context, fn func(tx store.Tx) error) error {
	*s.reads++
	if s.err != nil {
		return s.err
	}
	return fn(fakeTx{byHash: s.byHash})
}

type fakeTx struct {
	store.Tx
	byHash map[string]store.APIToken
}

func (tx fakeTx) APITokens() store.APITokens { return fakeAPITokens{byHash: tx.byHash} }

type fakeAPITokens struct {
	store.APITokens
	byHash map[string]store.APIToken
}

func (f fakeAPITokens) GetByHash(_ context.Context, hash []byte) (store.APIToken, error) {
	t, ok := f.byHash[string(hash)]
	if !ok {
		return store.APIToken{}, store.ErrNotFound
	}
	return t, nil
}

func TestStoreTokens(t *testing.T) {
	good, goodHash, err := server.GenerateAPIToken()
	if err != nil {
		t.Fatal(err)
	}
	revoked, revokedHash, err := server.GenerateAPIToken()
	if err != nil {
		t.Fatal(err)
	}
	unknown, _, err := server.GenerateAPIToken()
	if err != nil {
		t.Fatal(err)
	}
	byHash := map[string]store.APIToken{
		string(goodHash):    {ID: "t1", Name: "ops", Role: store.RoleSupport, Hash: goodHash},
		string(revokedHash): {ID: "t2", Name: "old", Role: store.RoleSupport, Hash: revokedHash, RevokedAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	dbDown := errors.New("database is closed")
	tests := []struct {
		name      string
		token     string
		storeErr  error
		wantID    string
		wantErr   error
		wantReads int
	}{
		{"valid", good, nil, "t1", nil, 1},
		{"unknown", unknown, nil, "", store.ErrNotFound, 1},
		{"revoked", revoked, nil, "", store.ErrNotFound, 1},
		{"no prefix", strings.TrimPrefix(good, "cnd_"), nil, "", store.ErrNotFound, 0},
		{"too long", "cnd_" + strings.Repeat("a", 253), nil, "", store.ErrNotFound, 0},
		{"store down", good, dbDown, "", dbDown, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reads := 0
			v := server.StoreTokens{Store: fakeStore{byHash: byHash, err: tt.storeErr, reads: &reads}}
			got, err := v.VerifyAPIToken(t.Context(), tt.token)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("err = %v, want %v", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatalf("err = %v", err)
			}
			if got.ID != tt.wantID {
				t.Errorf("token id = %q, want %q", got.ID, tt.wantID)
			}
			if reads != tt.wantReads {
				t.Errorf("store reads = %d, want %d", reads, tt.wantReads)
			}
		})
	}
}
