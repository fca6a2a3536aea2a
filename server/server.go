// Package server assembles the Gin engine of canonid: the middleware every
// request goes through (request id, structured access log, recovery,
// Prometheus metrics), the operational endpoints (/healthz, /readyz,
// /metrics), bearer-token authentication of the JSON API (/api/v1) and of
// SCIM (/scim/v2), and the graceful life cycle of the HTTP server.
//
// Feature packages mount their handlers on the groups the Server exposes;
// they read the authenticated token with Caller and the request id with
// RequestID from the request context, never from *gin.Context.
package server

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/canonid/canonid/store"
)

// Route prefixes of the authenticated areas.
const (
	APIPrefix  = "/api/v1"
	SCIMPrefix = "/scim/v2"
)

// openAPI describes /api/v1; handlers added to the API must be added to it.
//
//go:embed openapi.json
var openAPI []byte

// readyTimeout bounds the readiness check of /readyz.
const readyTimeout = 2 * time.Second

// Pinger checks that a dependency (the database) answers.
type Pinger interface {
	Ping(ctx context.Context) error
}

// TokenVerifier resolves a bearer token to the API token it is.
type TokenVerifier interface {
	// VerifyAPIToken returns the token's record, or an error wrapping
	// store.ErrNotFound when the token is unknown or revoked. Any other
	// error means the verifier could not tell.
	VerifyAPIToken(ctx context.Context, token string) (store.APIToken, error)
}

// Deps are what the server needs from the rest of canonid.
type Deps struct {
	// Logger receives the access log and server errors. Nil discards.
	Logger *slog.Logger
	// Ready is pinged by /readyz. Nil means always ready.
	Ready Pinger
	// Tokens verifies bearer tokens. Nil rejects every token.
	Tokens TokenVerifier
	// Registry receives the HTTP metrics and is served on /metrics. Nil
	// makes New create one with the Go and process collectors.
	Registry *prometheus.Registry
	// Version is the build version, exported as canonid_build_info.
	Version string
}

// Server is canonid's HTTP server: a Gin engine with its middleware and
// operational routes, ready for feature packages to mount theirs.
type Server struct {
	cfg     Config
	log     *slog.Logger
	ready   Pinger
	tokens  TokenVerifier
	reg     *prometheus.Registry
	metrics httpMetrics

	engine *gin.Engine
	api    *gin.RouterGroup
	scim   *gin.RouterGroup
}

// New builds the server. cfg should have passed Validate. It registers its
// metrics on deps.Registry and panics if a different collector with the
// same name is already registered there.
func New(cfg Config, deps Deps) *Server {
	s := &Server{
		cfg:    cfg,
		log:    deps.Logger,
		ready:  deps.Ready,
		tokens: deps.Tokens,
		reg:    deps.Registry,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.reg == nil {
		s.reg = prometheus.NewRegistry()
		s.reg.MustRegister(
			collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		)
	}
	s.metrics = newHTTPMetrics(s.reg, deps.Version)

	// gin's mode is process-wide (an atomic); release mode only silences
	// its debug output.
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	// No proxy is trusted until configured: the client address is the
	// peer's, X-Forwarded-For is ignored. From a trusted proxy only
	// X-Forwarded-For counts: a proxy that does not set X-Real-IP would
	// pass on the client's own.
	e.RemoteIPHeaders = []string{"X-Forwarded-For"}
	if err := e.SetTrustedProxies(cfg.TrustedProxies); err != nil {
		panic(fmt.Sprintf("server: trusted proxies: %v", err))
	}
	e.Use(s.requestID, s.accessLog, s.observe, s.recovery)
	e.NoRoute(s.noRoute)

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", gin.WrapH(promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelError),
		Registry: s.reg,
	})))

	// The API description is public, like any OpenAPI document.
	e.GET(APIPrefix+"/openapi.json", func(c *gin.Context) { c.Data(http.StatusOK, "application/json", openAPI) })
	s.api = e.Group(APIPrefix, s.authenticate(areaAPI))
	s.api.GET("/token", s.token)
	s.scim = e.Group(SCIMPrefix, s.authenticate(areaSCIM))

	s.engine = e
	return s
}

// Handler returns the server as an http.Handler (the Gin engine).
func (s *Server) Handler() http.Handler { return s.engine }

// Engine returns the Gin engine, for packages that mount routes outside the
// authenticated groups (UI pages, OIDC).
func (s *Server) Engine() *gin.Engine { return s.engine }

// APIGroup returns the /api/v1 group. Its routes require a bearer token of
// role support or org-admin; handlers restrict org-admin to its org.
func (s *Server) APIGroup() *gin.RouterGroup { return s.api }

// SCIMGroup returns the /scim/v2 group. Its routes require a bearer token of
// role scim or support; errors it renders are SCIM errors.
func (s *Server) SCIMGroup() *gin.RouterGroup { return s.scim }

// Run serves on ln until ctx is cancelled, then shuts down gracefully:
// it stops accepting, waits up to Config.ShutdownTimeout for running
// requests and returns nil if they all finished. Run closes ln.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.engine,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.InfoContext(ctx, "http server listening", "addr", ln.Addr().String(), "public_url", s.cfg.PublicURL)

	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}

	timeout := s.cfg.ShutdownTimeout
	if timeout <= 0 {
		timeout = DefaultConfig().ShutdownTimeout
	}
	s.log.InfoContext(ctx, "http server shutting down", "timeout", timeout.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		<-errc
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	}
	return nil
}

func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

func (s *Server) readyz(c *gin.Context) {
	if s.ready != nil {
		ctx, cancel := context.WithTimeout(c.Request.Context(), readyTimeout)
		defer cancel()
		if err := s.ready.Ping(ctx); err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "error": "database: " + err.Error()})
			return
		}
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}

// tokenInfo describes the calling token on GET /api/v1/token.
type tokenInfo struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Role  string `json:"role"`
	OrgID string `json:"org_id"`
}

func (s *Server) token(c *gin.Context) {
	t, ok := Caller(c.Request.Context())
	if !ok { // unreachable behind authenticate
		c.JSON(http.StatusUnauthorized, gin.H{"error": msgMissing})
		return
	}
	c.JSON(http.StatusOK, tokenInfo{ID: t.ID, Name: t.Name, Role: string(t.Role), OrgID: t.OrgID})
}

// noRoute answers unknown routes: SCIM ones after authentication, with a
// SCIM error; the others with a JSON 404.
func (s *Server) noRoute(c *gin.Context) {
	if !isSCIMPath(c.Request.URL.Path) {
		c.JSON(http.StatusNotFound, gin.H{"error": "not found"})
		return
	}
	if !s.authorize(c, areaSCIM) {
		return
	}
	writeSCIMError(c, http.StatusNotFound, fmt.Sprintf("endpoint %s %s does not exist yet", c.Request.Method, c.Request.URL.Path))
}
