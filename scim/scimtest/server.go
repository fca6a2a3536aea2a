package scimtest

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elimity-com/scim"
	scimerr "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
)

// BasePath is the path of the SCIM base URL on the test server.
const BasePath = "/scim/v2"

// DefaultMaxResults is the largest page when Options.MaxResults is 0.
const DefaultMaxResults = 100

// Options configure a Server. The zero value is a provider that supports
// PATCH and filters, answers pages of at most DefaultMaxResults Users,
// refuses duplicate addresses, and makes up its token.
type Options struct {
	// Token is the bearer token the provider accepts; "" makes a random
	// one (Server.Token).
	Token string
	// NoPatch makes /ServiceProviderConfig say PATCH is not supported,
	// and PATCH answer 501.
	NoPatch bool
	// NoFilter makes /ServiceProviderConfig say filtering is not
	// supported, and a filter answer 400 invalidFilter.
	NoFilter bool
	// MaxResults is the largest page (and the page given when count is
	// absent); 0 means DefaultMaxResults.
	MaxResults int
	// AllowDuplicateEmails lets several Users hold the same address. By
	// default an address held by another User is a 409.
	AllowDuplicateEmails bool
}

// Server is a running SCIM service provider. Its methods are safe for
// concurrent use.
type Server struct {
	// URL is the SCIM base URL, http://127.0.0.1:port/scim/v2.
	URL string
	// Token is the bearer token the provider accepts.
	Token string
	// Client is an HTTP client for the server.
	Client *http.Client

	t      testing.TB
	opts   Options
	srv    *httptest.Server
	lib    scim.Server
	schema schema.Schema // core User, with id and externalId
	ext    schema.Schema // enterprise User

	closed  chan struct{} // closed when the test ends
	changed chan struct{} // Changed
	// delaying and gaveUp are signalled (coalesced) when a request starts
	// being delayed, and when a delayed request ends before its delay
	// because its client or the test gave up.
	delaying, gaveUp chan struct{}

	mu           sync.Mutex
	users        map[string]*record
	seq          int
	uniqueEmails bool
	down         bool
	delay        time.Duration
	faults       []fault
	requests     map[string]int // by method
	total        int
}

// fault is a queued error answer.
type fault struct {
	left       int
	status     int
	retryAfter string
}

// Start starts a provider on 127.0.0.1, closed when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.MaxResults <= 0 {
		opts.MaxResults = DefaultMaxResults
	}
	if opts.Token == "" {
		opts.Token = rand.Text()
	}
	s := &Server{
		Token: opts.Token, t: t, opts: opts,
		schema: userSchema(), ext: schema.ExtensionEnterpriseUser(),
		closed: make(chan struct{}), changed: make(chan struct{}, 1),
		delaying: make(chan struct{}, 1), gaveUp: make(chan struct{}, 1),
		users: map[string]*record{}, uniqueEmails: !opts.AllowDuplicateEmails, requests: map[string]int{},
	}
	lib, err := scim.NewServer(&scim.ServerArgs{
		ServiceProviderConfig: &scim.ServiceProviderConfig{
			AuthenticationSchemes: []scim.AuthenticationScheme{{
				Type: scim.AuthenticationTypeOauthBearerToken, Name: "OAuth Bearer Token", Primary: true,
				Description: "The token given to scimtest.Start",
				SpecURI:     optional.NewString("https://www.rfc-editor.org/rfc/rfc6750"),
			}},
			MaxResults: opts.MaxResults, SupportFiltering: !opts.NoFilter, SupportPatch: !opts.NoPatch,
		},
		ResourceTypes: []scim.ResourceType{{
			ID: optional.NewString("User"), Name: "User", Endpoint: "/Users",
			Description:      optional.NewString("Users"),
			Schema:           s.schema,
			SchemaExtensions: []scim.SchemaExtension{{Schema: s.ext}},
			Handler:          users{s},
		}},
	})
	if err != nil {
		t.Fatalf("scimtest: %v", err)
	}
	s.lib = lib
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL + BasePath
	s.Client = s.srv.Client()
	t.Cleanup(func() {
		close(s.closed) // ends the delayed requests, so that Close returns
		s.srv.Close()
	})
	return s
}

// userSchema is the core User schema with id (read-only) and externalId,
// which the library leaves out, so that filters may name them.
func userSchema() schema.Schema {
	s := schema.CoreUserSchema()
	s.Attributes = append(s.Attributes,
		schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{
			CaseExact: true, Mutability: schema.AttributeMutabilityReadOnly(), Name: "id",
			Returned: schema.AttributeReturnedAlways(), Uniqueness: schema.AttributeUniquenessServer(),
		})),
		schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{
			CaseExact: true, Name: "externalId",
		})),
	)
	// The library appends externalId to this slice on every request
	// (ResourceType.schemaWithCommon): without spare capacity, each
	// append copies instead of writing concurrently into one array.
	s.Attributes = slices.Clip(s.Attributes)
	return s
}

// Fail makes the next n requests, whatever they are, answer status with a
// SCIM error body, and a Retry-After header if retryAfter is not empty
// (seconds, or an HTTP date). Calls queue: Fail(1, 500, "") then Fail(2,
// 429, "3") fails one request with 500, then two with 429.
func (s *Server) Fail(n, status int, retryAfter string) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, fault{left: n, status: status, retryAfter: retryAfter})
}

// SetDown makes every request answer 503 Service Unavailable while down
// is true. Queued faults wait.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// Delay holds the answers to the requests that arrive from now on back by
// d (0: no delay), or until the client gives up (the request's context is
// done) or the test ends, whichever comes first. An abandoned request
// changes nothing.
func (s *Server) Delay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// SetEmailUniqueness turns the uniqueness of addresses across Users on or
// off (Options.AllowDuplicateEmails sets it at the start).
func (s *Server) SetEmailUniqueness(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.uniqueEmails = on
}

// Requests is the number of requests received, whatever their answer.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// RequestsByMethod is the number of requests received with an HTTP
// method (GET, POST, PUT, PATCH, DELETE), whatever their answer.
func (s *Server) RequestsByMethod(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[strings.ToUpper(method)]
}

// Changed receives a value after successful writes (create, replace,
// patch, delete): the signal is sent before the answer, and coalesced, so
// that a test reads the Users after one receive and sees every write
// answered so far.
func (s *Server) Changed() <-chan struct{} { return s.changed }

func (s *Server) notify() {
	signal(s.changed)
}

// signal sends on a channel of capacity 1 without blocking.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// serve answers one request: it counts it, reads its body, delays it,
// plays the faults, checks the token, and lets the library serve it on
// the User store.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.total++
	s.requests[r.Method]++
	delay := s.delay
	s.mu.Unlock()

	// The body is read first, as servers do: only then does net/http
	// notice a client that gives up (and cancel the request's context).
	var body []byte
	if r.Body != nil && (r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch) {
		var err error
		if body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20)); err != nil {
			writeError(w, scimerr.ScimError{Status: http.StatusRequestEntityTooLarge, Detail: "the body exceeds 1 MiB"})
			return
		}
	}
	if delay > 0 && !s.wait(w, r, delay) {
		return
	}
	if f, ok := s.nextFault(); ok {
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		writeError(w, scimerr.ScimError{Status: f.status,
			Detail: fmt.Sprintf("injected fault: %d %s", f.status, http.StatusText(f.status))})
		return
	}
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="scimtest"`)
		writeError(w, scimerr.ScimError{Status: http.StatusUnauthorized, Detail: "a valid bearer token is required"})
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, BasePath)
	if !ok || (rest != "" && !strings.HasPrefix(rest, "/")) {
		writeError(w, scimerr.ScimError{Status: http.StatusNotFound, Detail: fmt.Sprintf("%s is not under %s", r.URL.Path, BasePath)})
		return
	}
	if s.opts.NoPatch && r.Method == http.MethodPatch {
		writeError(w, scimerr.ScimError{Status: http.StatusNotImplemented, Detail: "PATCH is not supported (see /ServiceProviderConfig)"})
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/v2" + rest
	r2.URL.RawPath = ""
	if body != nil {
		body = stringBooleans(body)
		r2.Body = io.NopCloser(bytes.NewReader(body))
		r2.ContentLength = int64(len(body))
	}
	rec := httptest.NewRecorder()
	s.lib.ServeHTTP(rec, r2)
	s.finish(w, rec)
}

// wait holds a request back by d. It returns false, having answered 503,
// when the client or the test gave up first.
func (s *Server) wait(w http.ResponseWriter, r *http.Request, d time.Duration) bool {
	signal(s.delaying)
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-r.Context().Done():
	case <-s.closed:
	}
	// The client is gone, or about to be: the answer is for the record.
	writeError(w, scimerr.ScimError{Status: http.StatusServiceUnavailable, Detail: "the delayed request was abandoned"})
	signal(s.gaveUp)
	return false
}

// nextFault takes the next fault to play, if any: 503 while down, else
// the first queued one.
func (s *Server) nextFault() (fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return fault{status: http.StatusServiceUnavailable}, true
	}
	if len(s.faults) == 0 {
		return fault{}, false
	}
	f := s.faults[0]
	if s.faults[0].left--; s.faults[0].left == 0 {
		s.faults = s.faults[1:]
	}
	return f, true
}

func (s *Server) authorized(r *http.Request) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(token)), []byte(s.Token)) == 1
}

// finish copies the library's answer to w, mending what real providers
// answer differently: an empty list is [] (not null), itemsPerPage is the
// number of resources in the page (not the count asked for),
// meta.location is absolute, and a created resource has its Location
// header.
func (s *Server) finish(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	h := w.Header()
	for k, v := range rec.Header() {
		h[k] = v
	}
	body := rec.Body.Bytes()
	var doc map[string]any
	if len(body) > 0 && json.Unmarshal(body, &doc) == nil {
		if _, isList := doc["totalResults"]; isList {
			list, _ := doc["Resources"].([]any)
			if list == nil {
				list = []any{}
			}
			for _, x := range list {
				if m, ok := x.(map[string]any); ok {
					s.absolute(m)
				}
			}
			doc["Resources"] = list
			doc["itemsPerPage"] = len(list)
		} else if loc := s.absolute(doc); loc != "" && rec.Code == http.StatusCreated {
			h.Set("Location", loc)
		}
		if b, err := json.Marshal(doc); err == nil {
			body = b
		}
	}
	h.Del("Content-Length")
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body)
}

// absolute makes the meta.location of a resource absolute and returns it.
func (s *Server) absolute(res map[string]any) string {
	m, ok := res["meta"].(map[string]any)
	if !ok {
		return ""
	}
	loc, _ := m["location"].(string)
	if loc != "" && !strings.Contains(loc, "://") {
		loc = s.URL + "/" + strings.TrimPrefix(loc, "/")
		m["location"] = loc
	}
	return loc
}

// writeError answers a SCIM error (RFC 7644 §3.12).
func writeError(w http.ResponseWriter, e scimerr.ScimError) {
	body, _ := json.Marshal(e)
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(e.Status)
	_, _ = w.Write(body)
}

// stringBooleans rewrites the strings "True" and "False" that Entra ID
// sends for active and primary (as attributes, or as the value of a PATCH
// operation on them) into JSON booleans. The library takes them only with
// its process-wide schema.SetAllowStringValues, which a test helper should
// not flip.
func stringBooleans(body []byte) []byte {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var doc any
	if d.Decode(&doc) != nil || !fixBooleans(doc) {
		return body
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return body
	}
	return out
}

func fixBooleans(v any) bool {
	changed := false
	switch v := v.(type) {
	case map[string]any:
		var path string
		for k, x := range v {
			if strings.EqualFold(k, "path") {
				path, _ = x.(string)
			}
		}
		for k, x := range v {
			if isBooleanName(k) || (strings.EqualFold(k, "value") && path != "" && isBooleanName(path)) {
				if s, ok := x.(string); ok {
					if b, err := strconv.ParseBool(strings.ToLower(strings.TrimSpace(s))); err == nil {
						v[k] = b
						changed = true
						continue
					}
				}
			}
			if fixBooleans(x) {
				changed = true
			}
		}
	case []any:
		for _, x := range v {
			if fixBooleans(x) {
				changed = true
			}
		}
	}
	return changed
}

// isBooleanName reports whether an attribute name or path ends with
// active or primary.
func isBooleanName(p string) bool {
	if i := strings.LastIndexAny(p, ".:]"); i >= 0 {
		p = p[i+1:]
	}
	return strings.EqualFold(p, "active") || strings.EqualFold(p, "primary")
}
