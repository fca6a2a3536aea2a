package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/store"
)

// SCIMContentType is the media type of SCIM bodies (RFC 7644 §3.1).
const SCIMContentType = "application/scim+json"

// SCIMErrorSchema is the schema URN of a SCIM error (RFC 7644 §3.12).
const SCIMErrorSchema = "urn:ietf:params:scim:api:messages:2.0:Error"

// Messages of authentication failures. The unknown-token message is the
// same whatever the reason, so that it reveals nothing about tokens.
const (
	msgMissing     = "missing bearer token"
	msgScheme      = "authorization scheme must be Bearer"
	msgInvalid     = "invalid or revoked token"
	msgUnavailable = "token verification unavailable, try again later"
)

// area is an authenticated part of the URL space, with its roles and its
// error format.
type area int

const (
	areaAPI  area = iota // /api/v1: support and org-admin, JSON errors
	areaSCIM             // /scim/v2: scim and support, SCIM errors
)

// allows reports whether a token of role r may use the area.
func (a area) allows(r store.APIRole) bool {
	switch a {
	case areaAPI:
		return r == store.RoleSupport || r == store.RoleOrgAdmin
	case areaSCIM:
		return r == store.RoleSCIM || r == store.RoleSupport
	}
	return false
}

func (a area) prefix() string {
	if a == areaSCIM {
		return SCIMPrefix
	}
	return APIPrefix
}

// Caller returns the API token that authenticated the request ctx belongs
// to, and false outside /api/v1 and /scim/v2.
func Caller(ctx context.Context) (store.APIToken, bool) {
	t, ok := ctx.Value(callerKey).(store.APIToken)
	return t, ok
}

// authenticate is the middleware of an authenticated group.
func (s *Server) authenticate(a area) gin.HandlerFunc {
	return func(c *gin.Context) {
		if s.authorize(c, a) {
			c.Next()
		}
	}
}

// authorize checks the bearer token of the request against area a. On
// success it puts the token in the request context and returns true; on
// failure it answers (401, 403 or 503, in the area's format), aborts and
// returns false.
func (s *Server) authorize(c *gin.Context, a area) bool {
	const challenge = `Bearer realm="canonid"`
	h := c.GetHeader("Authorization")
	if h == "" {
		c.Header("WWW-Authenticate", challenge)
		s.abort(c, a, http.StatusUnauthorized, msgMissing)
		return false
	}
	scheme, token, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		c.Header("WWW-Authenticate", challenge)
		s.abort(c, a, http.StatusUnauthorized, msgScheme)
		return false
	}
	token = strings.TrimSpace(token)
	if token == "" {
		c.Header("WWW-Authenticate", challenge)
		s.abort(c, a, http.StatusUnauthorized, msgMissing)
		return false
	}

	ctx := c.Request.Context()
	var (
		t   store.APIToken
		err error
	)
	if s.tokens == nil {
		err = fmt.Errorf("no token verifier: %w", store.ErrNotFound)
	} else {
		t, err = s.tokens.VerifyAPIToken(ctx, token)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.Header("WWW-Authenticate", challenge+`, error="invalid_token"`)
		s.abort(c, a, http.StatusUnauthorized, msgInvalid)
		return false
	case err != nil:
		s.log.LogAttrs(ctx, slog.LevelError, "verify api token",
			slog.String("error", err.Error()),
			slog.String("request_id", RequestID(ctx)),
		)
		s.abort(c, a, http.StatusServiceUnavailable, msgUnavailable)
		return false
	}
	if !a.allows(t.Role) {
		s.abort(c, a, http.StatusForbidden, fmt.Sprintf("token role %q may not use %s", t.Role, a.prefix()))
		return false
	}
	c.Request = c.Request.WithContext(context.WithValue(ctx, callerKey, t))
	return true
}

// abort answers an error in the area's format and stops the chain.
func (s *Server) abort(c *gin.Context, a area, status int, msg string) {
	if a == areaSCIM {
		writeSCIMError(c, status, msg)
		return
	}
	c.AbortWithStatusJSON(status, gin.H{"error": msg})
}

// scimError is a SCIM error body (RFC 7644 §3.12).
type scimError struct {
	Schemas []string `json:"schemas"`
	Status  string   `json:"status"`
	Detail  string   `json:"detail,omitempty"`
}

// writeSCIMError answers a SCIM error and stops the chain.
func writeSCIMError(c *gin.Context, status int, detail string) {
	body, err := json.Marshal(scimError{
		Schemas: []string{SCIMErrorSchema},
		Status:  fmt.Sprint(status),
		Detail:  detail,
	})
	if err != nil { // cannot happen: strings only
		panic(err)
	}
	c.Header("Content-Type", SCIMContentType)
	c.AbortWithStatus(status)
	_, _ = c.Writer.Write(body)
}
