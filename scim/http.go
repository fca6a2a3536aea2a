package scim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	scimerr "github.com/elimity-com/scim/errors"
	"github.com/gin-gonic/gin"
)

// maxBody bounds request bodies (the size ServiceProviderConfig states).
const maxBody = 1 << 20

// Mount serves SCIM on g, the authenticated /scim/v2 group.
func (s *Server) Mount(g *gin.RouterGroup) {
	g.Any("/*path", gin.WrapH(s))
}

// endpoints are the first path segments, by lower-case spelling.
var endpoints = map[string]string{
	"users": "Users", "groups": "Groups", "schemas": "Schemas", "resourcetypes": "ResourceTypes",
	"serviceproviderconfig": "ServiceProviderConfig", "serviceproviderconfigs": "ServiceProviderConfig",
	"me": "Me", "bulk": "Bulk",
}

// ServeHTTP serves a request to /scim/v2/...: it normalises the request,
// lets the library serve it and finishes the response.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if t, ok := s.caller(r.Context()); ok {
		if ok, wait := s.limit.allow(t.ID); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			writeError(w, http.StatusTooManyRequests, "", fmt.Sprintf("too many requests from token %s; retry after %s", t.Name, w.Header().Get("Retry-After")+"s"))
			return
		}
	}
	rest := r.URL.Path
	if i := strings.Index(strings.ToLower(rest), "/scim/v2"); i >= 0 {
		rest = rest[i+len("/scim/v2"):]
	}
	segs := strings.Split(strings.Trim(rest, "/"), "/")
	ep, ok := endpoints[strings.ToLower(segs[0])]
	if !ok {
		writeError(w, http.StatusNotFound, "", fmt.Sprintf("no SCIM endpoint %s; endpoints: /Users, /Groups, /Schemas, /ResourceTypes, /ServiceProviderConfig", rest))
		return
	}
	segs[0] = ep
	switch ep {
	case "Me":
		writeError(w, http.StatusNotImplemented, "", "/Me is not supported: a provisioning client acts for no user")
		return
	case "Bulk":
		writeError(w, http.StatusNotImplemented, "", "bulk operations are not supported (see /ServiceProviderConfig)")
		return
	case "Schemas", "ResourceTypes", "ServiceProviderConfig":
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			writeError(w, http.StatusMethodNotAllowed, "", fmt.Sprintf("%s is read-only: %s is not allowed", ep, r.Method))
			return
		}
		if ep == "ResourceTypes" && len(segs) == 2 {
			for _, n := range []string{"User", "Group"} {
				if strings.EqualFold(segs[1], n) {
					segs[1] = n
				}
			}
		}
	case "Users", "Groups":
		if len(segs) == 2 && segs[1] == ".search" {
			if r.Method != http.MethodPost {
				w.Header().Set("Allow", http.MethodPost)
				writeError(w, http.StatusMethodNotAllowed, "", ".search takes POST")
				return
			}
			if !searchToQuery(w, r) {
				return
			}
			segs = segs[:1]
			r.Method = http.MethodGet
		}
		allowed := []string{http.MethodGet, http.MethodPost}
		if len(segs) > 1 {
			allowed = []string{http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete}
		}
		if len(segs) > 2 {
			writeError(w, http.StatusNotFound, "", fmt.Sprintf("no SCIM endpoint %s", rest))
			return
		}
		if !slices.Contains(allowed, r.Method) {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			writeError(w, http.StatusMethodNotAllowed, "", fmt.Sprintf("%s is not allowed on %s", r.Method, rest))
			return
		}
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/v2/" + strings.Join(segs, "/")
	r2.URL.RawPath = ""
	q := r2.URL.Query()
	if f := q.Get("filter"); f != "" {
		q.Set("filter", rewriteFilter(f))
		r2.URL.RawQuery = q.Encode()
	}
	if r.Body != nil && (r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			writeError(w, http.StatusRequestEntityTooLarge, "", fmt.Sprintf("the request body exceeds %d bytes", maxBody))
			return
		}
		if r.Method == http.MethodPatch {
			body = normalizePatch(body)
		}
		r2.Body = io.NopCloser(bytes.NewReader(body))
		r2.ContentLength = int64(len(body))
	}

	if ep == "Users" && len(segs) == 1 && r2.Method == http.MethodGet && !s.libraryLists.Load() && s.listUsers(w, r2) {
		return
	}
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	s.lib.ServeHTTP(rec, r2)
	s.finish(w, r2, ep, rec)
}

// searchToQuery turns a POST .search body (RFC 7644 §3.4.3) into the
// query of the equivalent GET.
func searchToQuery(w http.ResponseWriter, r *http.Request) bool {
	var body struct {
		Filter             string   `json:"filter"`
		StartIndex         *int     `json:"startIndex"`
		Count              *int     `json:"count"`
		SortBy             string   `json:"sortBy"`
		SortOrder          string   `json:"sortOrder"`
		Attributes         []string `json:"attributes"`
		ExcludedAttributes []string `json:"excludedAttributes"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, scimerr.ScimTypeInvalidSyntax, "the .search body is not a SearchRequest: "+err.Error())
		return false
	}
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("filter", body.Filter)
	set("sortBy", body.SortBy)
	set("sortOrder", body.SortOrder)
	set("attributes", strings.Join(body.Attributes, ","))
	set("excludedAttributes", strings.Join(body.ExcludedAttributes, ","))
	if body.StartIndex != nil {
		q.Set("startIndex", strconv.Itoa(*body.StartIndex))
	}
	if body.Count != nil {
		q.Set("count", strconv.Itoa(*body.Count))
	}
	r.URL.RawQuery = q.Encode()
	r.Body = http.NoBody
	return true
}

// recorder buffers the library's response so that it can be finished.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(status int)      { r.status = status }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }

// finish writes the library's response after the gaps are closed:
// projection, ETag and If-None-Match, absolute locations, the
// ServiceProviderConfig's true features.
func (s *Server) finish(w http.ResponseWriter, r *http.Request, ep string, rec *recorder) {
	h := w.Header()
	h.Set("Content-Type", "application/scim+json")
	body := rec.body.Bytes()
	if rec.status >= 400 || rec.status == http.StatusNoContent || len(body) == 0 {
		w.WriteHeader(rec.status)
		_, _ = w.Write(body)
		return
	}
	var doc map[string]any
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&doc); err != nil {
		w.WriteHeader(rec.status)
		_, _ = w.Write(body)
		return
	}
	q := r.URL.Query()
	attrs, excluded := splitList(q.Get("attributes")), splitList(q.Get("excludedAttributes"))
	switch {
	case ep == "ServiceProviderConfig":
		doc["etag"] = map[string]any{"supported": true}
		doc["sort"] = map[string]any{"supported": true}
		doc["meta"] = map[string]any{"resourceType": "ServiceProviderConfig", "location": s.base + "/ServiceProviderConfig"}
	case doc["Resources"] != nil || slices.Contains(schemasOf(doc), listSchema):
		list, _ := doc["Resources"].([]any)
		if list == nil {
			list = []any{}
		}
		for _, x := range list {
			if m, ok := x.(map[string]any); ok {
				s.absolute(m)
				project(m, attrs, excluded)
			}
		}
		doc["Resources"] = list
		// RFC 7644 §3.4.2: the number of resources in this page (the
		// library puts the count asked for).
		doc["itemsPerPage"] = len(list)
	case ep == "Users" || ep == "Groups":
		s.absolute(doc)
		project(doc, attrs, excluded)
		if tag := rec.header.Get("Etag"); tag != "" {
			h.Set("ETag", tag)
			if r.Method == http.MethodGet && matchesTag(r.Header.Get("If-None-Match"), tag) {
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
		if rec.status == http.StatusCreated {
			if m, ok := doc["meta"].(map[string]any); ok {
				if loc, ok := m["location"].(string); ok {
					h.Set("Location", loc)
				}
			}
		}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "", "cannot encode the response")
		return
	}
	w.WriteHeader(rec.status)
	_, _ = w.Write(out)
}

func schemasOf(doc map[string]any) []string {
	var out []string
	list, _ := doc["schemas"].([]any)
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// absolute makes meta.location an absolute URL (the library writes it
// relative to the endpoint).
func (s *Server) absolute(res map[string]any) {
	m, ok := res["meta"].(map[string]any)
	if !ok {
		return
	}
	if loc, ok := m["location"].(string); ok && !strings.Contains(loc, "://") {
		m["location"] = s.base + "/" + strings.TrimPrefix(loc, "/")
	}
}

// matchesTag reports whether an If-None-Match header names tag.
func matchesTag(header, tag string) bool {
	if header == "" {
		return false
	}
	for t := range strings.SplitSeq(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || t == tag || "W/"+t == tag || strings.TrimPrefix(t, "W/") == strings.TrimPrefix(tag, "W/") {
			return true
		}
	}
	return false
}

func splitList(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// writeError answers a SCIM error.
func writeError(w http.ResponseWriter, status int, typ scimerr.ScimType, detail string) {
	body, _ := json.Marshal(scimerr.ScimError{Status: status, ScimType: typ, Detail: detail})
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
