package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// CSRF protection is a double submit bound to the server: the browser
// holds a random value in the canonid_csrf cookie (HttpOnly, SameSite=Strict),
// and every form carries, in its csrf_token field, HMAC-SHA256(Secret,
// cookie value), masked with a fresh random pad so that the page never
// shows the same bytes twice. A POST is accepted when the field unmasks to
// the HMAC of the cookie it came with. An attacker can neither read the
// cookie nor compute the HMAC without the secret.
const (
	csrfCookie = "canonid_csrf"
	csrfField  = "csrf_token"
	// csrfSize is the size of the cookie's random value and of the MAC.
	csrfSize = 32
	// ctxCSRF caches, in the Gin context, the cookie value of this
	// response (set once even when several forms need it).
	ctxCSRF = "web.csrf"
)

var b64 = base64.RawURLEncoding

// randomBytes returns n random bytes. crypto/rand.Read never fails (it
// crashes the program when the system has no randomness).
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// randomString returns n random bytes, base64url-encoded.
func randomString(n int) string { return b64.EncodeToString(randomBytes(n)) }

// mac returns HMAC-SHA256(secret, purpose || 0 || parts joined by 0).
func (h *Handler) mac(purpose string, parts ...string) []byte {
	m := hmac.New(sha256.New, h.cfg.Secret)
	m.Write([]byte(purpose))
	for _, p := range parts {
		m.Write([]byte{0})
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

// csrfValue returns the browser's CSRF cookie value, or "" when it has
// none (or a malformed one).
func csrfValue(r *http.Request) string {
	ck, err := r.Cookie(csrfCookie)
	if err != nil {
		return ""
	}
	if b, err := b64.DecodeString(ck.Value); err != nil || len(b) != csrfSize {
		return ""
	}
	return ck.Value
}

// ensureCSRF returns the CSRF cookie value of this browser, setting a new
// cookie when it has none.
func (h *Handler) ensureCSRF(c *gin.Context) string {
	if v := c.GetString(ctxCSRF); v != "" {
		return v
	}
	v := csrfValue(c.Request)
	if v == "" {
		v = randomString(csrfSize)
		http.SetCookie(c.Writer, &http.Cookie{
			Name: csrfCookie, Value: v, Path: "/",
			HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteStrictMode,
		})
	}
	c.Set(ctxCSRF, v)
	return v
}

// csrfToken returns a fresh masked token for the forms of this response.
func (h *Handler) csrfToken(c *gin.Context) string {
	mac := h.mac("csrf", h.ensureCSRF(c))
	pad := randomBytes(csrfSize)
	tok := make([]byte, 2*csrfSize)
	copy(tok, pad)
	subtle.XORBytes(tok[csrfSize:], pad, mac)
	return b64.EncodeToString(tok)
}

// checkCSRF reports whether the POST's csrf_token field matches its CSRF
// cookie.
func (h *Handler) checkCSRF(c *gin.Context) bool {
	v := csrfValue(c.Request)
	if v == "" {
		return false
	}
	tok, err := b64.DecodeString(c.PostForm(csrfField))
	if err != nil || len(tok) != 2*csrfSize {
		return false
	}
	got := make([]byte, csrfSize)
	subtle.XORBytes(got, tok[:csrfSize], tok[csrfSize:])
	return hmac.Equal(got, h.mac("csrf", v))
}

// checkOrigin refuses a POST sent from another site: one whose Origin
// header is present and neither the public URL's origin nor "null", or
// whose Sec-Fetch-Site says it came from another site. "null" is let
// through to the token check: browsers send it for same-origin form posts
// from a page whose Referrer-Policy is no-referrer, as ours is.
func (h *Handler) checkOrigin(r *http.Request) bool {
	if o := r.Header.Get("Origin"); o != "" && o != "null" && !strings.EqualFold(o, h.origin) {
		return false
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "cross-site", "same-site":
		return false
	}
	return true
}

// activationTTL bounds how long the resend button of a pending-activation
// page works.
const activationTTL = 30 * time.Minute

// activationTicket returns what the resend form of a pending-activation
// page carries: the account id and an expiry, signed and bound to the
// browser's CSRF cookie, so that only the person who just proved their
// password, in this browser, can ask for a new link.
func (h *Handler) activationTicket(c *gin.Context, accountID string) string {
	exp := strconv.FormatInt(h.now().Add(activationTTL).Unix(), 10)
	payload := accountID + "." + exp
	return b64.EncodeToString([]byte(payload)) + "." + b64.EncodeToString(h.mac("activation", h.ensureCSRF(c), payload))
}

// checkActivationTicket returns the account id of a valid, unexpired
// ticket bound to this browser's CSRF cookie.
func (h *Handler) checkActivationTicket(c *gin.Context, ticket string) (string, bool) {
	enc, sig, ok := strings.Cut(ticket, ".")
	if !ok {
		return "", false
	}
	payload, err := b64.DecodeString(enc)
	if err != nil {
		return "", false
	}
	mac, err := b64.DecodeString(sig)
	if err != nil || !hmac.Equal(mac, h.mac("activation", csrfValue(c.Request), string(payload))) {
		return "", false
	}
	i := strings.LastIndexByte(string(payload), '.')
	if i < 0 {
		return "", false
	}
	id, exp := string(payload[:i]), string(payload[i+1:])
	n, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || !h.now().Before(time.Unix(n, 0)) {
		return "", false
	}
	return id, true
}
