package web

import (
	"context"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// Self-service endpoints (/api/v1/me/...) act for the person calling them,
// authenticated by their login session (the browser) or by an access token
// canonid issued (a platform acting for them).

// TokenVerifier returns the account an access token stands for, or an
// error when the token is not a valid canonid access token.
type TokenVerifier func(ctx context.Context, token string) (accountID string, err error)

// meKey is the gin context key of the authenticated account.
const meKey = "canonid.me"

// RequireAccount authenticates a self-service request: a Bearer access
// token checked by tokens (nil: none accepted), else the login session
// cookie. A request authenticated by the cookie that changes something must
// come from canonid's own pages: its Origin (if any) must be the public
// URL's and it must not be a cross-site fetch; the session cookie is
// SameSite=Lax, so other sites' forms do not carry it anyway. Without
// either, 401 with a JSON error.
func (h *Handler) RequireAccount(tokens TokenVerifier) gin.HandlerFunc {
	return func(c *gin.Context) {
		if auth := c.GetHeader("Authorization"); auth != "" {
			scheme, tok, _ := strings.Cut(auth, " ")
			if !strings.EqualFold(scheme, "Bearer") || tokens == nil {
				unauthorized(c, "use a Bearer access token issued by canonid")
				return
			}
			id, err := tokens(c.Request.Context(), strings.TrimSpace(tok))
			if err != nil || id == "" {
				unauthorized(c, "the access token is invalid, revoked or expired")
				return
			}
			c.Set(meKey, id)
			c.Next()
			return
		}
		s, ok := h.Session(c.Request)
		if !ok {
			unauthorized(c, "log in first")
			return
		}
		switch c.Request.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if !h.checkOrigin(c.Request) {
				c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": "cross-site request refused"})
				return
			}
		}
		c.Set(meKey, s.AccountID)
		c.Next()
	}
}

func unauthorized(c *gin.Context, msg string) {
	c.Header("WWW-Authenticate", `Bearer realm="canonid"`)
	c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": msg})
}

// Me returns the account RequireAccount authenticated.
func Me(c *gin.Context) (string, bool) {
	id, ok := c.Get(meKey)
	s, _ := id.(string)
	return s, ok && s != ""
}
