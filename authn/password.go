// Package authn checks who is logging in: it stores local passwords as
// argon2id hashes (PHC strings), enforces the password policy, and implements
// web.Authenticator over the store, checking a password either against the
// account's own hash or, for an account that has none, against the campus
// directory the account is linked to (connectors.PasswordAuthenticator).
//
// It also writes what a login and a password change leave behind, each as one
// store transaction with its audit and outbox event: SetPassword and
// RecordLogin.
//
// Whatever goes wrong with an identifier or a password, Authenticate answers
// web.ErrInvalidCredentials and spends about the same time, so that the login
// page never tells whether an account exists.
package authn

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// ErrMalformedHash is wrapped by the errors of CheckPassword for a stored
// hash that is not an argon2id PHC string canonid accepts.
var ErrMalformedHash = errors.New("malformed password hash")

// argon2 parameters of new hashes: OWASP's Password Storage Cheat Sheet
// recommendation for argon2id (m=19 MiB, t=2, p=1).
const (
	hashMemory  = 19456 // KiB
	hashTime    = 2
	hashThreads = 1
	saltLen     = 16
	keyLen      = 32
)

// Bounds on the parameters of a stored hash. A hash comes from the database
// or an import: these bounds keep a crafted one from making a check
// allocate gigabytes or run for minutes. They admit RFC 9106's second
// recommended setting (64 MiB, t=3) and OWASP's alternatives.
const (
	maxMemory  = 64 * 1024 // KiB: 64 MiB
	maxTime    = 10
	maxThreads = 16
	minSalt    = 8
	maxSalt    = 64
	minKey     = 16
	maxKey     = 64
	// maxPHC bounds the length of the string parsed at all: the longest
	// hash within the bounds above has about 210 characters.
	maxPHC = 256
)

const phcPrefix = "$argon2id$v=19$"

// params are the settings of one hash.
type params struct {
	memory  uint32 // KiB
	time    uint32
	threads uint8
}

// current returns the parameters of new hashes.
func current() params { return params{memory: hashMemory, time: hashTime, threads: hashThreads} }

// HashPassword returns an argon2id PHC string of pw with the current
// parameters and a fresh random salt:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key> (base64 without padding,
// 16-byte salt, 32-byte key). It does not check the policy: see CheckPolicy.
func HashPassword(pw string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("authn: password salt: %w", err)
	}
	p := current()
	return encode(p, salt, derive(pw, salt, p, keyLen)), nil
}

// CheckPassword reports whether pw matches phc, an argon2id PHC string with
// any parameters within bounds (at most 64 MiB, 10 passes, 16 lanes; a
// salt of 8 to 64 bytes, a key of 16 to 64 bytes). The keys are compared
// in constant time. A string it cannot accept gives false and an error
// wrapping ErrMalformedHash that says why.
func CheckPassword(phc, pw string) (bool, error) {
	h, err := parse(phc)
	if err != nil {
		return false, err
	}
	got := derive(pw, h.salt, h.params, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(got, h.key) == 1, nil
}

// NeedsRehash reports whether phc should be replaced by a hash with the
// current parameters: it is malformed, or weaker than a new hash — less
// memory, less total work (memory × passes), or a shorter salt or key. A
// hash as strong in another setting (e.g. OWASP's m=46 MiB, t=1) is kept.
func NeedsRehash(phc string) bool {
	h, err := parse(phc)
	if err != nil {
		return true
	}
	p, c := h.params, current()
	return p.memory < c.memory || uint64(p.memory)*uint64(p.time) < uint64(c.memory)*uint64(c.time) ||
		len(h.salt) < saltLen || len(h.key) < keyLen
}

func derive(pw string, salt []byte, p params, n uint32) []byte {
	return argon2.IDKey([]byte(pw), salt, p.time, p.memory, p.threads, n)
}

func encode(p params, salt, key []byte) string {
	return fmt.Sprintf("%sm=%d,t=%d,p=%d$%s$%s", phcPrefix, p.memory, p.time, p.threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// hash is a parsed PHC string.
type hash struct {
	params
	salt, key []byte
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("authn: %w: %s", ErrMalformedHash, fmt.Sprintf(format, args...))
}

// parse reads $argon2id$v=19$m=M,t=T,p=P$SALT$KEY, checking every bound
// before anything is allocated in proportion to a parameter.
func parse(phc string) (hash, error) {
	var h hash
	if len(phc) > maxPHC {
		return h, malformed("%d characters, more than a hash has", len(phc))
	}
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[0] != "" {
		return h, malformed("want $argon2id$v=19$m=…,t=…,p=…$salt$key")
	}
	if parts[1] != "argon2id" {
		return h, malformed("algorithm %q, want argon2id", parts[1])
	}
	if parts[2] != "v=19" {
		return h, malformed("version %q, want v=19", parts[2])
	}
	fields := strings.Split(parts[3], ",")
	if len(fields) != 3 {
		return h, malformed("parameters %q, want m=…,t=…,p=…", parts[3])
	}
	var vals [3]uint64
	for i, name := range []string{"m", "t", "p"} {
		digits, ok := strings.CutPrefix(fields[i], name+"=")
		if !ok {
			return h, malformed("parameters %q, want m=…,t=…,p=… in that order", parts[3])
		}
		v, err := strconv.ParseUint(digits, 10, 32)
		if err != nil {
			return h, malformed("parameter %s=%q is not a number below 2^32", name, digits)
		}
		vals[i] = v
	}
	m, t, p := vals[0], vals[1], vals[2]
	switch {
	case p < 1 || p > maxThreads:
		return h, malformed("p=%d, want 1 to %d", p, maxThreads)
	case t < 1 || t > maxTime:
		return h, malformed("t=%d, want 1 to %d", t, maxTime)
	case m < 8*p || m > maxMemory:
		return h, malformed("m=%d KiB, want %d (8 per lane) to %d", m, 8*p, maxMemory)
	}
	h.params = params{memory: uint32(m), time: uint32(t), threads: uint8(p)}
	var err error
	if h.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil {
		return h, malformed("salt is not unpadded base64")
	}
	if n := len(h.salt); n < minSalt || n > maxSalt {
		return h, malformed("salt of %d bytes, want %d to %d", n, minSalt, maxSalt)
	}
	if h.key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil {
		return h, malformed("key is not unpadded base64")
	}
	if n := len(h.key); n < minKey || n > maxKey {
		return h, malformed("key of %d bytes, want %d to %d", n, minKey, maxKey)
	}
	return h, nil
}
