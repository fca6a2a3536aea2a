package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/canonid/canonid/store"
)

// TokenPrefix starts every API token canonid issues, so that a leaked token
// is recognisable by secret scanners and a mistyped credential is rejected
// without a database lookup.
const TokenPrefix = "cnd_"

// maxTokenLen bounds what VerifyAPIToken accepts before hashing.
const maxTokenLen = 256

// GenerateAPIToken returns a new bearer token — TokenPrefix followed by 32
// random bytes in unpadded base64url — and the hash to store for it
// (HashAPIToken of the token). The token itself is shown once and never
// stored.
func GenerateAPIToken() (token string, hash []byte, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, fmt.Errorf("generate api token: %w", err)
	}
	token = TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, HashAPIToken(token), nil
}

// HashAPIToken returns the SHA-256 of the whole token string, as stored in
// store.APIToken.Hash. The token has 256 bits of entropy, so a fast hash is
// enough.
func HashAPIToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// StoreTokens is the TokenVerifier backed by the store: it looks tokens up
// by hash, one read outside a transaction (store.Store.Read).
type StoreTokens struct {
	// Store is the database; only Read is used.
	Store interface {
		Read(ctx context.Context, fn func(tx store.Tx) error) error
	}
}

var _ TokenVerifier = StoreTokens{}

// VerifyAPIToken returns the unrevoked token whose hash matches. A token
// that is malformed, unknown or revoked yields an error wrapping
// store.ErrNotFound; other errors come from the store. No constant-time
// comparison is needed: the lookup is by hash.
func (s StoreTokens) VerifyAPIToken(ctx context.Context, token string) (store.APIToken, error) {
	if !strings.HasPrefix(token, TokenPrefix) || len(token) > maxTokenLen {
		return store.APIToken{}, fmt.Errorf("api token: malformed: %w", store.ErrNotFound)
	}
	var t store.APIToken
	err := s.Store.Read(ctx, func(tx store.Tx) error {
		var err error
		t, err = tx.APITokens().GetByHash(ctx, HashAPIToken(token))
		return err
	})
	if err != nil {
		return store.APIToken{}, fmt.Errorf("api token: %w", err)
	}
	if !t.RevokedAt.IsZero() {
		return store.APIToken{}, fmt.Errorf("api token: revoked: %w", store.ErrNotFound)
	}
	return t, nil
}
