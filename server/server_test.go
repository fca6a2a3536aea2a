package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/canonid/canonid/server"
	"github.com/canonid/canonid/store"
)

// fakeTokens is a TokenVerifier over a map; tokens in fail answer err.
type fakeTokens struct {
	tokens map[string]store.APIToken
	fail   map[string]error
}

func (f fakeTokens) VerifyAPIToken(_ context.Context, token string) (store.APIToken, error) {
	if err, ok := f.fail[token]; ok {
		return store.APIToken{}, err
	}
	t, ok := f.tokens[token]
	if !ok {
		return store.APIToken{}, fmt.Errorf("token: %w", store.ErrNotFound)
	}
	return t, nil
}

// fakePinger answers Ping with err.
type fakePinger struct{ err error }

func (p fakePinger) Ping(context.Context) error { return p.err }

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var testTokens = fakeTokens{
	tokens: map[string]store.APIToken{
		"tok-support": {ID: "t1", Name: "support-bot", Role: store.RoleSupport},
		"tok-scim":    {ID: "t2", Name: "hr-provisioning", Role: store.RoleSCIM},
		"tok-admin":   {ID: "t3", Name: "cpts-admin", Role: store.RoleOrgAdmin, OrgID: "cpts-sud"},
	},
	fail: map[string]error{
		"tok-dberr": errors.New("database is locked"),
	},
}

type testServer struct {
	*server.Server
	logs *syncBuffer
}

func newTestServer(t *testing.T, deps server.Deps) testServer {
	t.Helper()
	return newTestServerConfig(t, server.DefaultConfig(), deps)
}

func newTestServerConfig(t *testing.T, cfg server.Config, deps server.Deps) testServer {
	t.Helper()
	logs := &syncBuffer{}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if deps.Tokens == nil {
		deps.Tokens = testTokens
	}
	if deps.Ready == nil {
		deps.Ready = fakePinger{}
	}
	if deps.Registry == nil {
		deps.Registry = prometheus.NewRegistry()
	}
	return testServer{Server: server.New(cfg, deps), logs: logs}
}

// do serves one request and returns the recorded answer.
func do(h http.Handler, method, path string, header http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	for k, vs := range header {
		req.Header[k] = vs
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func bearer(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}

// assertJSON checks that body is exactly the JSON object want.
func assertJSON(t *testing.T, body []byte, want string) {
	t.Helper()
	var got, exp any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	if err := json.Unmarshal([]byte(want), &exp); err != nil {
		t.Fatalf("want %q: %v", want, err)
	}
	if !reflect.DeepEqual(got, exp) {
		t.Errorf("body = %s, want %s", body, want)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	tests := []struct {
		name       string
		path       string
		ready      server.Pinger
		wantStatus int
		wantBody   string
	}{
		{"healthz", "/healthz", fakePinger{}, 200, `{"status":"ok"}`},
		{"healthz while db down", "/healthz", fakePinger{errors.New("connection refused")}, 200, `{"status":"ok"}`},
		{"readyz ready", "/readyz", fakePinger{}, 200, `{"status":"ready"}`},
		{"readyz down", "/readyz", fakePinger{errors.New("connection refused")}, 503,
			`{"status":"unavailable","error":"database: connection refused"}`},
		{"unknown route", "/nope", fakePinger{}, 404, `{"error":"not found"}`},
		{"unknown api route without token", "/api/v1/nope", fakePinger{}, 404, `{"error":"not found"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, server.Deps{Ready: tt.ready})
			rec := do(s.Handler(), http.MethodGet, tt.path, nil)
			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("content type = %q", ct)
			}
			assertJSON(t, rec.Body.Bytes(), tt.wantBody)
		})
	}
}

// deadlinePinger reports whether its context had a deadline within 2 s.
type deadlinePinger struct{ got chan time.Duration }

func (p deadlinePinger) Ping(ctx context.Context) error {
	d, ok := ctx.Deadline()
	if !ok {
		return errors.New("no deadline")
	}
	p.got <- time.Until(d)
	return nil
}

func TestReadyzTimeout(t *testing.T) {
	p := deadlinePinger{got: make(chan time.Duration, 1)}
	s := newTestServer(t, server.Deps{Ready: p})
	if rec := do(s.Handler(), http.MethodGet, "/readyz", nil); rec.Code != 200 {
		t.Fatalf("status = %d, body %s", rec.Code, rec.Body)
	}
	if d := <-p.got; d <= 0 || d > 2*time.Second {
		t.Errorf("ping deadline in %v, want within 2s", d)
	}
}

func TestMetrics(t *testing.T) {
	tests := []struct {
		name     string
		registry *prometheus.Registry
		want     []string
	}{
		{"given registry", prometheus.NewRegistry(), []string{
			`canonid_http_requests_total{method="GET",route="/healthz",status="200"} 1`,
			`canonid_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
			`canonid_http_requests_total{method="other",route="unmatched",status="404"} 1`,
			`canonid_http_request_duration_seconds_count{method="GET",route="/healthz"} 1`,
			`canonid_build_info{version="1.2.3"} 1`,
		}},
		{"default registry", nil, []string{
			`canonid_http_requests_total{method="GET",route="/healthz",status="200"} 1`,
			"go_goroutines ",
			"process_cpu_seconds_total ",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := server.New(server.DefaultConfig(), server.Deps{Tokens: testTokens, Registry: tt.registry, Version: "1.2.3"})
			do(s.Handler(), http.MethodGet, "/healthz", nil)
			do(s.Handler(), http.MethodGet, "/no/such/route/"+uuid.NewString(), nil)
			do(s.Handler(), "BREW", "/coffee", nil)
			rec := do(s.Handler(), http.MethodGet, "/metrics", nil)
			if rec.Code != 200 {
				t.Fatalf("status = %d", rec.Code)
			}
			body := rec.Body.String()
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("metrics lack %q", w)
				}
			}
			if strings.Contains(body, "/no/such/route") {
				t.Error("metrics label an unmatched path")
			}
		})
	}
}

func TestTwoServersShareRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := server.New(server.DefaultConfig(), server.Deps{Registry: reg})
	b := server.New(server.DefaultConfig(), server.Deps{Registry: reg})
	do(a.Handler(), http.MethodGet, "/healthz", nil)
	do(b.Handler(), http.MethodGet, "/healthz", nil)
	body := do(a.Handler(), http.MethodGet, "/metrics", nil).Body.String()
	if !strings.Contains(body, `canonid_http_requests_total{method="GET",route="/healthz",status="200"} 2`) {
		t.Errorf("metrics:\n%s", body)
	}
}

func TestRequestID(t *testing.T) {
	long := strings.Repeat("a", 128)
	tests := []struct {
		name     string
		incoming string
		keep     bool
	}{
		{"valid", "abc-123_X.y", true},
		{"128 chars", long, true},
		{"none", "", false},
		{"129 chars", long + "a", false},
		{"space", "abc 123", false},
		{"slash", "a/b", false},
		{"non-ascii", "é", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, server.Deps{})
			var seen string
			s.Engine().GET("/test/rid", func(c *gin.Context) {
				seen = server.RequestID(c.Request.Context())
				c.Status(http.StatusNoContent)
			})
			h := http.Header{}
			if tt.incoming != "" {
				h.Set("X-Request-Id", tt.incoming)
			}
			rec := do(s.Handler(), http.MethodGet, "/test/rid", h)
			got := rec.Header().Get("X-Request-Id")
			if tt.keep && got != tt.incoming {
				t.Errorf("X-Request-Id = %q, want %q", got, tt.incoming)
			}
			if !tt.keep {
				if _, err := uuid.Parse(got); err != nil {
					t.Errorf("X-Request-Id = %q, want a fresh uuid", got)
				}
			}
			if seen != got {
				t.Errorf("RequestID(ctx) = %q, header %q", seen, got)
			}
			if !strings.Contains(s.logs.String(), `"request_id":"`+got+`"`) {
				t.Errorf("access log lacks the request id:\n%s", s.logs)
			}
		})
	}
}

func TestRequestIDOutsideRequest(t *testing.T) {
	if id := server.RequestID(context.Background()); id != "" {
		t.Errorf("RequestID = %q", id)
	}
	if _, ok := server.Caller(context.Background()); ok {
		t.Error("Caller found a token outside a request")
	}
}

func TestAccessLog(t *testing.T) {
	s := newTestServer(t, server.Deps{})
	do(s.Handler(), http.MethodGet, "/healthz?secret=x", http.Header{"X-Request-Id": {"rid-1"}})
	var line map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(s.logs.String())), &line); err != nil {
		t.Fatalf("log %q: %v", s.logs, err)
	}
	for k, want := range map[string]any{
		"level": "INFO", "msg": "http request", "method": "GET", "path": "/healthz",
		"status": 200.0, "request_id": "rid-1", "remote": "192.0.2.1", "bytes": 15.0,
	} {
		if line[k] != want {
			t.Errorf("log %s = %v, want %v", k, line[k], want)
		}
	}
	if _, ok := line["duration_ms"].(float64); !ok {
		t.Errorf("log duration_ms = %v", line["duration_ms"])
	}
}

// TestClientAddress: the client's address (the access log's "remote", and
// what the rate limits count) is the peer's unless the peer is a trusted
// proxy; then it is the right-most address of X-Forwarded-For that is not
// a trusted proxy. httptest's peer is 192.0.2.1.
func TestClientAddress(t *testing.T) {
	tests := []struct {
		name    string
		trusted []string
		header  http.Header
		want    string
	}{
		{"no proxy trusted", nil, http.Header{"X-Forwarded-For": {"198.51.100.7"}}, "192.0.2.1"},
		{"peer not trusted", []string{"10.0.0.0/8"}, http.Header{"X-Forwarded-For": {"198.51.100.7"}}, "192.0.2.1"},
		{"trusted peer", []string{"192.0.2.1"}, http.Header{"X-Forwarded-For": {"198.51.100.7"}}, "198.51.100.7"},
		{"forged first hop", []string{"192.0.2.0/24"}, http.Header{"X-Forwarded-For": {"203.0.113.9, 198.51.100.7"}}, "198.51.100.7"},
		{"chain of proxies", []string{"192.0.2.0/24"}, http.Header{"X-Forwarded-For": {"198.51.100.7, 192.0.2.50"}}, "198.51.100.7"},
		{"header split over lines", []string{"192.0.2.0/24"}, http.Header{"X-Forwarded-For": {"203.0.113.9", "198.51.100.7"}}, "198.51.100.7"},
		{"X-Real-IP ignored", []string{"192.0.2.1"}, http.Header{"X-Real-Ip": {"198.51.100.8"}}, "192.0.2.1"},
		{"trusted peer, no header", []string{"192.0.2.1"}, nil, "192.0.2.1"},
		{"garbage in the header", []string{"192.0.2.1"}, http.Header{"X-Forwarded-For": {"not-an-address"}}, "192.0.2.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := server.DefaultConfig()
			cfg.TrustedProxies = tt.trusted
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			s := newTestServerConfig(t, cfg, server.Deps{})
			do(s.Handler(), http.MethodGet, "/healthz", tt.header)
			var line map[string]any
			if err := json.Unmarshal([]byte(strings.TrimSpace(s.logs.String())), &line); err != nil {
				t.Fatalf("log %q: %v", s.logs, err)
			}
			if line["remote"] != tt.want {
				t.Errorf("remote = %v, want %s", line["remote"], tt.want)
			}
		})
	}
}

func TestPanic(t *testing.T) {
	tests := []struct {
		name     string
		path     string
		header   http.Header
		wantCT   string
		wantBody string
	}{
		{"plain route", "/test/panic", http.Header{"X-Request-Id": {"rid-panic"}},
			"application/json", `{"error":"internal error","request_id":"rid-panic"}`},
		{"scim route", "/scim/v2/TestPanic", http.Header{"X-Request-Id": {"rid-panic"}, "Authorization": {"Bearer tok-scim"}},
			"application/scim+json", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"500","detail":"internal error (request id rid-panic)"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, server.Deps{})
			boom := func(c *gin.Context) {
				c.Header("Content-Type", "text/html")
				panic("boom")
			}
			s.Engine().GET("/test/panic", boom)
			s.SCIMGroup().GET("/TestPanic", boom)
			rec := do(s.Handler(), http.MethodGet, tt.path, tt.header)
			if rec.Code != 500 {
				t.Errorf("status = %d, want 500", rec.Code)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, tt.wantCT) {
				t.Errorf("content type = %q, want %q", ct, tt.wantCT)
			}
			assertJSON(t, rec.Body.Bytes(), tt.wantBody)
			logs := s.logs.String()
			for _, w := range []string{`"msg":"panic serving request"`, `"panic":"boom"`, `"stack":"goroutine `, `"level":"ERROR","msg":"http request"`} {
				if !strings.Contains(logs, w) {
					t.Errorf("logs lack %s:\n%s", w, logs)
				}
			}
		})
	}
}

func TestAuth(t *testing.T) {
	const (
		jsonCT = "application/json; charset=utf-8"
		scimCT = "application/scim+json"
		realm  = `Bearer realm="canonid"`
		bad    = `Bearer realm="canonid", error="invalid_token"`
	)
	scimErr := func(status, detail string) string {
		return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"` + status + `","detail":"` + detail + `"}`
	}
	tests := []struct {
		name       string
		path       string
		auth       string // Authorization header, "" for none
		wantStatus int
		wantCT     string
		wantWWW    string
		wantBody   string
	}{
		// /api/v1
		{"api missing", "/api/v1/token", "", 401, jsonCT, realm, `{"error":"missing bearer token"}`},
		{"api wrong scheme", "/api/v1/token", "Basic dXNlcjpwYXNz", 401, jsonCT, realm, `{"error":"authorization scheme must be Bearer"}`},
		{"api empty bearer", "/api/v1/token", "Bearer ", 401, jsonCT, realm, `{"error":"missing bearer token"}`},
		{"api scheme only", "/api/v1/token", "Bearer", 401, jsonCT, realm, `{"error":"missing bearer token"}`},
		{"api unknown", "/api/v1/token", "Bearer nope", 401, jsonCT, bad, `{"error":"invalid or revoked token"}`},
		{"api verifier down", "/api/v1/token", "Bearer tok-dberr", 503, jsonCT, "", `{"error":"token verification unavailable, try again later"}`},
		{"api scim role", "/api/v1/token", "Bearer tok-scim", 403, jsonCT, "", `{"error":"token role \"scim\" may not use /api/v1"}`},
		{"api support", "/api/v1/token", "Bearer tok-support", 200, jsonCT, "",
			`{"id":"t1","name":"support-bot","role":"support","org_id":""}`},
		{"api org-admin, scheme case", "/api/v1/token", "bEARER tok-admin", 200, jsonCT, "",
			`{"id":"t3","name":"cpts-admin","role":"org-admin","org_id":"cpts-sud"}`},
		// /scim/v2, a mounted route
		{"scim missing", "/scim/v2/TestMe", "", 401, scimCT, realm, scimErr("401", "missing bearer token")},
		{"scim wrong scheme", "/scim/v2/TestMe", "Token tok-scim", 401, scimCT, realm, scimErr("401", "authorization scheme must be Bearer")},
		{"scim unknown", "/scim/v2/TestMe", "Bearer nope", 401, scimCT, bad, scimErr("401", "invalid or revoked token")},
		{"scim verifier down", "/scim/v2/TestMe", "Bearer tok-dberr", 503, scimCT, "", scimErr("503", "token verification unavailable, try again later")},
		{"scim org-admin", "/scim/v2/TestMe", "Bearer tok-admin", 403, scimCT, "", scimErr("403", `token role \"org-admin\" may not use /scim/v2`)},
		{"scim scim", "/scim/v2/TestMe", "Bearer tok-scim", 200, jsonCT, "", `{"caller":"hr-provisioning"}`},
		{"scim support", "/scim/v2/TestMe", "Bearer tok-support", 200, jsonCT, "", `{"caller":"support-bot"}`},
		// /scim/v2, an endpoint nobody mounted
		{"scim unmounted, no token", "/scim/v2/Users", "", 401, scimCT, realm, scimErr("401", "missing bearer token")},
		{"scim unmounted, unknown token", "/scim/v2/Users", "Bearer nope", 401, scimCT, bad, scimErr("401", "invalid or revoked token")},
		{"scim unmounted, org-admin", "/scim/v2/Users", "Bearer tok-admin", 403, scimCT, "", scimErr("403", `token role \"org-admin\" may not use /scim/v2`)},
		{"scim unmounted", "/scim/v2/Users", "Bearer tok-scim", 404, scimCT, "", scimErr("404", "endpoint GET /scim/v2/Users does not exist yet")},
		{"scim root unmounted", "/scim/v2", "Bearer tok-support", 404, scimCT, "", scimErr("404", "endpoint GET /scim/v2 does not exist yet")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, server.Deps{})
			s.SCIMGroup().GET("/TestMe", func(c *gin.Context) {
				tok, ok := server.Caller(c.Request.Context())
				if !ok {
					c.Status(http.StatusTeapot)
					return
				}
				c.JSON(http.StatusOK, gin.H{"caller": tok.Name})
			})
			h := http.Header{}
			if tt.auth != "" {
				h.Set("Authorization", tt.auth)
			}
			rec := do(s.Handler(), http.MethodGet, tt.path, h)
			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if ct := rec.Header().Get("Content-Type"); ct != tt.wantCT {
				t.Errorf("content type = %q, want %q", ct, tt.wantCT)
			}
			if www := rec.Header().Get("WWW-Authenticate"); www != tt.wantWWW {
				t.Errorf("WWW-Authenticate = %q, want %q", www, tt.wantWWW)
			}
			assertJSON(t, rec.Body.Bytes(), tt.wantBody)
			if tt.wantStatus == 503 && !strings.Contains(s.logs.String(), "database is locked") {
				t.Errorf("verifier error not logged:\n%s", s.logs)
			}
		})
	}
}

func TestAPIGroup(t *testing.T) {
	s := newTestServer(t, server.Deps{})
	s.APIGroup().GET("/orgs/:org/whoami", func(c *gin.Context) {
		tok, _ := server.Caller(c.Request.Context())
		c.JSON(http.StatusOK, gin.H{"org": tok.OrgID, "request_id": server.RequestID(c.Request.Context())})
	})
	tests := []struct {
		token      string
		wantStatus int
	}{
		{"tok-admin", 200},
		{"tok-support", 200},
		{"tok-scim", 403},
		{"nope", 401},
	}
	for _, tt := range tests {
		t.Run(tt.token, func(t *testing.T) {
			h := bearer(tt.token)
			h.Set("X-Request-Id", "rid-"+tt.token)
			rec := do(s.Handler(), http.MethodGet, "/api/v1/orgs/cpts-sud/whoami", h)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if tt.token == "tok-admin" {
				assertJSON(t, rec.Body.Bytes(), `{"org":"cpts-sud","request_id":"rid-tok-admin"}`)
			}
		})
	}
	metrics := do(s.Handler(), http.MethodGet, "/metrics", nil).Body.String()
	for _, w := range []string{
		`canonid_http_requests_total{method="GET",route="/api/v1/orgs/:org/whoami",status="200"} 2`,
		`canonid_http_requests_total{method="GET",route="/api/v1/orgs/:org/whoami",status="401"} 1`,
	} {
		if !strings.Contains(metrics, w) {
			t.Errorf("metrics lack %s", w)
		}
	}
}

func TestPanicAfterWrite(t *testing.T) {
	s := newTestServer(t, server.Deps{})
	s.Engine().GET("/test/half", func(c *gin.Context) {
		c.String(http.StatusOK, "partial")
		panic("late boom")
	})
	rec := do(s.Handler(), http.MethodGet, "/test/half", nil)
	if rec.Code != 200 || rec.Body.String() != "partial" {
		t.Errorf("answer = %d %q, want the handler's own", rec.Code, rec.Body)
	}
	if !strings.Contains(s.logs.String(), `"panic":"late boom"`) {
		t.Errorf("panic not logged:\n%s", s.logs)
	}
}

func TestAbortHandlerPanicPropagates(t *testing.T) {
	s := newTestServer(t, server.Deps{})
	s.Engine().GET("/test/abort", func(c *gin.Context) { panic(http.ErrAbortHandler) })
	defer func() {
		if r := recover(); r != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler", r)
		}
	}()
	do(s.Handler(), http.MethodGet, "/test/abort", nil)
	t.Error("ServeHTTP returned")
}

func TestNilTokensRejectsAll(t *testing.T) {
	s := server.New(server.DefaultConfig(), server.Deps{Registry: prometheus.NewRegistry()})
	rec := do(s.Handler(), http.MethodGet, "/api/v1/token", bearer("tok-support"))
	if rec.Code != 401 {
		t.Errorf("status = %d, want 401", rec.Code)
	}
}

func TestRun(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := newTestServer(t, server.Deps{Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	entered, release := make(chan struct{}), make(chan struct{})
	s.Engine().GET("/test/slow", func(c *gin.Context) {
		close(entered)
		<-release
		c.JSON(http.StatusOK, gin.H{"done": true})
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(ctx, ln) }()

	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	base := "http://" + ln.Addr().String()

	resp, err := client.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz: %d %s", resp.StatusCode, body)
	}
	assertJSON(t, body, `{"status":"ok"}`)

	// A request in flight when ctx is cancelled still completes.
	slow := make(chan error, 1)
	go func() {
		resp, err := client.Get(base + "/test/slow")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != 200 {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
		}
		slow <- err
	}()
	<-entered
	cancel()
	close(release)
	if err := <-slow; err != nil {
		t.Errorf("in-flight request: %v", err)
	}
	if err := <-runErr; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

func TestRunShutdownTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := server.DefaultConfig()
	cfg.ShutdownTimeout = 10 * time.Millisecond
	s := server.New(cfg, server.Deps{Registry: prometheus.NewRegistry()})
	entered, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	s.Engine().GET("/test/stuck", func(c *gin.Context) {
		close(entered)
		<-release
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(ctx, ln) }()

	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	go func() {
		if resp, err := client.Get("http://" + ln.Addr().String() + "/test/stuck"); err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	cancel()
	if err := <-runErr; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run = %v, want a deadline error", err)
	}
}

func TestRunListenerClosed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	s := server.New(server.DefaultConfig(), server.Deps{Registry: prometheus.NewRegistry()})
	if err := s.Run(t.Context(), ln); err == nil {
		t.Error("Run on a closed listener = nil, want an error")
	}
}
