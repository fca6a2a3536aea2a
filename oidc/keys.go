package oidc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/canonid/canonid/store"
)

// EventKeyCreated is recorded when a replica creates a signing key.
const EventKeyCreated = "oidc.key_created"

// keyring keeps the signing keys. Time is cut into slots of RotateEvery;
// the key of a slot signs from the slot's start, and is created as soon as
// the slot is less than PublishAhead away, so that it is in the JWKS that
// long before it signs. A key signs only once it has been published for
// PublishAhead (the very first key excepted): a key created late, after a
// downtime, waits while the previous one goes on signing. Replicas share
// the keys through the store; the unique start of a slot makes two replicas
// that create the same key at once keep one.
type keyring struct {
	st       store.Store
	cfg      KeysConfig
	lifetime time.Duration // the longest lifetime of a signed token
	seal     *sealer
	now      func() time.Time

	mu       sync.Mutex
	keys     []*key // by ActiveFrom
	loadedAt time.Time
}

// key is a signing key with its private part decrypted.
type key struct {
	row    store.SigningKey
	alg    jose.SignatureAlgorithm
	signer crypto.Signer
}

// refresh is how long the keyring trusts what it read from the store.
const refresh = time.Minute

func (k *key) ID() string                                  { return k.row.ID }
func (k *key) SignatureAlgorithm() jose.SignatureAlgorithm { return k.alg }
func (k *key) Algorithm() jose.SignatureAlgorithm          { return k.alg }
func (k *key) Use() string                                 { return "sig" }

// Key returns the private key for op.SigningKey; publicKey gives the public
// one for op.Key.
func (k *key) Key() any { return k.signer }

type publicKey struct{ *key }

func (p publicKey) Key() any { return p.signer.Public() }

func (r *keyring) slot(t time.Time) time.Time { return t.UTC().Truncate(r.cfg.RotateEvery) }

// current returns the keys, reading and completing them when the cached
// ones are older than refresh or miss a slot.
func (r *keyring) current(ctx context.Context) ([]*key, error) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.keys != nil && now.Sub(r.loadedAt) < refresh && now.After(r.loadedAt) && r.has(r.keys, now) {
		return r.keys, nil
	}
	keys, err := r.load(ctx, now)
	if err != nil {
		return nil, err
	}
	if !r.has(keys, now) {
		if err := r.create(ctx, keys, now); err != nil {
			return nil, err
		}
		if keys, err = r.load(ctx, now); err != nil {
			return nil, err
		}
	}
	r.keys, r.loadedAt = keys, now
	return keys, nil
}

// has reports whether keys hold the key of now's slot and the key of the
// slot PublishAhead from now.
func (r *keyring) has(keys []*key, now time.Time) bool {
	for _, s := range []time.Time{r.slot(now), r.slot(now.Add(r.cfg.PublishAhead))} {
		if !slices.ContainsFunc(keys, func(k *key) bool { return k.row.ActiveFrom.Equal(s) }) {
			return false
		}
	}
	return true
}

func (r *keyring) load(ctx context.Context, now time.Time) ([]*key, error) {
	var rows []store.SigningKey
	err := r.st.View(ctx, func(tx store.Tx) error {
		var err error
		rows, err = tx.SigningKeys().List(ctx, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read signing keys: %w", err)
	}
	keys := make([]*key, 0, len(rows))
	for _, row := range rows {
		// Reuse what is decrypted already.
		if i := slices.IndexFunc(r.keys, func(k *key) bool { return k.row.ID == row.ID }); i >= 0 {
			keys = append(keys, r.keys[i])
			continue
		}
		der, err := r.seal.open(row.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("signing key %s: %w (is keys.secret the one it was created with?)", row.ID, err)
		}
		priv, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return nil, fmt.Errorf("signing key %s: %w", row.ID, err)
		}
		signer, ok := priv.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("signing key %s: not a signing key", row.ID)
		}
		keys = append(keys, &key{row: row, alg: jose.SignatureAlgorithm(row.Algorithm), signer: signer})
	}
	return keys, nil
}

// create makes the missing keys of now's slot and of the next one.
func (r *keyring) create(ctx context.Context, have []*key, now time.Time) error {
	for _, s := range []time.Time{r.slot(now), r.slot(now.Add(r.cfg.PublishAhead))} {
		if slices.ContainsFunc(have, func(k *key) bool { return k.row.ActiveFrom.Equal(s) }) {
			continue
		}
		row, err := r.generate(s, now)
		if err != nil {
			return err
		}
		err = r.st.Update(ctx, func(tx store.Tx) error {
			if err := tx.SigningKeys().Create(ctx, &row); err != nil {
				return err
			}
			return tx.Record(ctx, store.Event{Type: EventKeyCreated, Actor: "system:oidc",
				Data: map[string]any{"kid": row.ID, "algorithm": row.Algorithm, "active_from": row.ActiveFrom}})
		})
		if err != nil && !errors.Is(err, store.ErrDuplicate) { // another replica made it
			return fmt.Errorf("create signing key: %w", err)
		}
		have = append(have, &key{row: row})
	}
	return nil
}

func (r *keyring) generate(slot, now time.Time) (store.SigningKey, error) {
	var priv crypto.Signer
	var err error
	switch r.cfg.Algorithm {
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		return store.SigningKey{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return store.SigningKey{}, err
	}
	id := uuid.NewString()
	pub, err := (&jose.JSONWebKey{Key: priv.Public(), KeyID: id, Algorithm: r.cfg.Algorithm, Use: "sig"}).MarshalJSON()
	if err != nil {
		return store.SigningKey{}, err
	}
	return store.SigningKey{
		ID: id, Algorithm: r.cfg.Algorithm, PrivateKey: r.seal.seal(der), PublicKey: pub,
		CreatedAt: now, ActiveFrom: slot,
		// It signs for a slot, longer if the next key is late, and its
		// tokens live after that.
		ExpiresAt: slot.Add(2*r.cfg.RotateEvery + r.cfg.PublishAhead + r.lifetime),
	}, nil
}

// signing returns the key to sign with now: the newest active key that has
// been published for PublishAhead, else the newest active one.
func (r *keyring) signing(ctx context.Context) (*key, error) {
	keys, err := r.current(ctx)
	if err != nil {
		return nil, err
	}
	now := r.now()
	var newest *key
	for i := len(keys) - 1; i >= 0; i-- {
		k := keys[i]
		if k.row.ActiveFrom.After(now) {
			continue
		}
		if newest == nil {
			newest = k
		}
		if !k.row.CreatedAt.Add(r.cfg.PublishAhead).After(now) {
			return k, nil
		}
	}
	if newest == nil {
		return nil, errors.New("oidc: no signing key is active")
	}
	return newest, nil
}

// SigningKey implements op.Storage.
func (s *Storage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	return s.keys.signing(ctx)
}

// SignatureAlgorithms implements op.Storage.
func (s *Storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.SignatureAlgorithm(s.keys.cfg.Algorithm)}, nil
}

// KeySet implements op.Storage: every key not expired, the next one
// included.
func (s *Storage) KeySet(ctx context.Context) ([]op.Key, error) {
	keys, err := s.keys.current(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]op.Key, len(keys))
	for i, k := range keys {
		out[i] = publicKey{k}
	}
	return out, nil
}
