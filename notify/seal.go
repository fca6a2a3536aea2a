package notify

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
)

// payloadVersion is the first byte of a sealed payload: the format and the
// key derivation, so that either can change while older mails are queued.
const payloadVersion = 1

// payload is what a queued mail keeps secret: the recipient and the
// template's data, which may hold a one-time link.
type payload struct {
	To   string            `json:"to"`
	Data map[string]string `json:"data"`
}

// sealer encrypts payloads with AES-256-GCM under a key derived from the
// configured secret (HKDF-SHA256), a random nonce before each ciphertext.
// The mail's id, template and locale are authenticated with it, so that a
// payload cannot be moved to another row or rendered with another template.
type sealer struct{ aead cipher.AEAD }

func newSealer(secret string) (*sealer, error) {
	key, err := hkdf.Key(sha256.New, []byte(secret), nil, "canonid mail payload", 32)
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

func additionalData(id, template, locale string) []byte {
	return []byte("canonid mail\x00" + id + "\x00" + template + "\x00" + locale)
}

func (s *sealer) seal(id, template, locale string, p payload) ([]byte, error) {
	plain, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	n := s.aead.NonceSize()
	out := make([]byte, 1+n, 1+n+len(plain)+s.aead.Overhead())
	out[0] = payloadVersion
	rand.Read(out[1:])
	return s.aead.Seal(out, out[1:], plain, additionalData(id, template, locale)), nil
}

var errUnsealed = errors.New("cannot decrypt the mail's data (was mail.secret changed, or the row altered?)")

func (s *sealer) open(id, template, locale string, sealed []byte) (payload, error) {
	var p payload
	n := s.aead.NonceSize()
	if len(sealed) < 1+n+s.aead.Overhead() || sealed[0] != payloadVersion {
		return p, errUnsealed
	}
	plain, err := s.aead.Open(nil, sealed[1:1+n], sealed[1+n:], additionalData(id, template, locale))
	if err != nil {
		return p, errUnsealed
	}
	if err := json.Unmarshal(plain, &p); err != nil {
		return p, fmt.Errorf("mail data: %w", err)
	}
	return p, nil
}
