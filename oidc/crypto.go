package oidc

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
)

// sealer encrypts with AES-256-GCM under a key derived from the configured
// secret for one purpose, a random nonce before each ciphertext. It
// implements op.Crypto for codes and opaque access tokens (the library's
// default is AES-CFB, which does not authenticate).
type sealer struct{ aead cipher.AEAD }

// newSealer derives the purpose's key from secret with HKDF-SHA256.
func newSealer(secret, purpose string) (*sealer, error) {
	key, err := hkdf.Key(sha256.New, []byte(secret), nil, "canonid oidc "+purpose, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

func (s *sealer) seal(plain []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, plain, nil)
}

var errUnsealed = errors.New("oidc: cannot decrypt (wrong secret or altered data)")

func (s *sealer) open(sealed []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, errUnsealed
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], nil)
	if err != nil {
		return nil, errUnsealed
	}
	return plain, nil
}

// Encrypt implements op.Crypto: base64url without padding, fit for a URL
// and a bearer token.
func (s *sealer) Encrypt(plain string) (string, error) {
	return base64.RawURLEncoding.EncodeToString(s.seal([]byte(plain))), nil
}

// Decrypt implements op.Crypto.
func (s *sealer) Decrypt(enc string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return "", fmt.Errorf("oidc: malformed token: %w", err)
	}
	plain, err := s.open(b)
	return string(plain), err
}

// hash is the SHA-256 under which secrets handed out are stored.
func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// randomToken returns n random bytes in base64url.
func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
