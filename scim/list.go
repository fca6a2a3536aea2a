package scim

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/elimity-com/scim"
	scimerr "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/filter"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/mapping"
)

// listUsers answers GET /Users (and POST /Users/.search) itself, writing
// the ListResponse in one pass: through the library, a page of 100 users
// was built as maps, encoded, decoded and encoded again by finish, a third
// of the CPU time of a page. The answer is byte for byte the one the
// library path gives (TestListMatchesLibrary). A request that projects
// attributes is left to the library path, which knows how to project; it
// reports false then, having written nothing.
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) bool {
	q := r.URL.Query()
	if strings.TrimSpace(q.Get("attributes")) != "" || strings.TrimSpace(q.Get("excludedAttributes")) != "" {
		return false
	}
	params, se := s.listParams(q)
	if se != nil {
		writeScimError(w, *se)
		return true
	}
	ctx := r.Context()
	total, views, names, c, err := s.userPage(r, params)
	if err != nil {
		var out scimerr.ScimError
		if e, ok := s.fail(ctx, err).(scimerr.ScimError); ok {
			out = e
		} else {
			out = scimerr.ScimErrorInternal
		}
		writeScimError(w, out)
		return true
	}
	buf := listBuffers.Get().(*[]byte)
	b := append((*buf)[:0], `{"Resources":[`...)
	for i, v := range views {
		if i > 0 {
			b = append(b, ',')
		}
		b = s.appendUser(b, v, c.source, names)
	}
	b = append(b, `],"itemsPerPage":`...)
	b = strconv.AppendInt(b, int64(len(views)), 10)
	b = append(b, `,"schemas":["`+listSchema+`"],"startIndex":`...)
	b = strconv.AppendInt(b, int64(params.StartIndex), 10)
	b = append(b, `,"totalResults":`...)
	b = strconv.AppendInt(b, int64(total), 10)
	b = append(b, '}')
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	if cap(b) <= 1<<20 { // keep buffers of ordinary pages only
		*buf = b
		listBuffers.Put(buf)
	}
	return true
}

var listBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// listParams reads startIndex, count and filter as the library does
// (scim.Server's parseRequestParams): count defaults to and is capped at
// MaxResults, a negative one is 0, a startIndex below 1 is 1; a filter
// that does not parse or names no attribute of the User schemas is
// invalidFilter.
func (s *Server) listParams(q url.Values) (scim.ListRequestParams, *scimerr.ScimError) {
	limit := s.cfg.MaxResults
	if limit < 1 {
		limit = 100
	}
	var bad []string
	intParam := func(key string, def int) int {
		v := q.Get(key)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			bad = append(bad, key)
		}
		return n
	}
	count := min(intParam("count", limit), limit)
	count = max(count, 0)
	start := max(intParam("startIndex", 1), 1)
	if len(bad) > 0 {
		e := scimerr.ScimErrorBadParams(bad)
		return scim.ListRequestParams{}, &e
	}
	p := scim.ListRequestParams{Count: count, StartIndex: start}
	if f := strings.TrimSpace(q.Get("filter")); f != "" {
		v, err := filter.NewValidator(f, s.userSchema, s.userExtensions...)
		if err == nil {
			err = v.Validate()
		}
		if err != nil {
			e := scimerr.ScimErrorInvalidFilter
			return scim.ListRequestParams{}, &e
		}
		p.FilterValidator = &v
	}
	return p, nil
}

// writeScimError writes a SCIM error as the library does.
func writeScimError(w http.ResponseWriter, e scimerr.ScimError) {
	writeError(w, e.Status, e.ScimType, e.Detail)
}

// appendUser appends the User of v as the library path renders it: the
// attributes of userResource, with id, externalId, schemas and meta, keys
// in byte order as encoding/json sorts a map's.
func (s *Server) appendUser(b []byte, v userView, source string, orgNames map[string]string) []byte {
	a := v.acc
	b = append(b, `{"active":`...)
	b = strconv.AppendBool(b, active(v, source))
	if a.DisplayName != "" {
		b = append(b, `,"displayName":`...)
		b = appendJSONString(b, a.DisplayName)
	}
	if len(v.emails) > 0 {
		b = append(b, `,"emails":[`...)
		for i, e := range sortedEmails(v.emails) {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"primary":`...)
			b = strconv.AppendBool(b, e.Primary)
			b = append(b, `,"type":"work","value":`...)
			b = appendJSONString(b, e.Address)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if id, ok := externalID(v, source); ok {
		b = append(b, `,"externalId":`...)
		b = appendJSONString(b, id)
	}
	first := true
	for _, m := range v.members {
		if m.State != identity.MembershipValidated {
			continue
		}
		if first {
			b = append(b, `,"groups":[`...)
		} else {
			b = append(b, ',')
		}
		first = false
		b = append(b, `{"$ref":`...)
		b = appendJSONString(b, "Groups/"+m.OrgID)
		b = append(b, `,"display":`...)
		b = appendJSONString(b, orgNames[m.OrgID])
		b = append(b, `,"type":"direct","value":`...)
		b = appendJSONString(b, m.OrgID)
		b = append(b, '}')
	}
	if !first {
		b = append(b, ']')
	}
	b = append(b, `,"id":`...)
	b = appendJSONString(b, a.ID)
	b = append(b, `,"meta":{"created":`...)
	b = appendJSONTime(b, a.CreatedAt)
	b = append(b, `,"lastModified":`...)
	b = appendJSONTime(b, a.UpdatedAt)
	b = append(b, `,"location":`...)
	b = appendJSONString(b, s.base+"/Users/"+url.PathEscape(a.ID))
	b = append(b, `,"resourceType":"User","version":`...)
	b = appendJSONString(b, etag(a.Version))
	b = append(b, '}')
	full := strings.TrimSpace(a.GivenName + " " + a.FamilyName)
	if a.GivenName != "" || a.FamilyName != "" || full != "" {
		b = append(b, `,"name":{`...)
		sep := ""
		if a.FamilyName != "" {
			b = append(b, `"familyName":`...)
			b = appendJSONString(b, a.FamilyName)
			sep = ","
		}
		if full != "" {
			b = append(b, sep+`"formatted":`...)
			b = appendJSONString(b, full)
			sep = ","
		}
		if a.GivenName != "" {
			b = append(b, sep+`"givenName":`...)
			b = appendJSONString(b, a.GivenName)
		}
		b = append(b, '}')
	}
	if a.Phone != "" {
		b = append(b, `,"phoneNumbers":[{"primary":true,"type":"work","value":`...)
		b = appendJSONString(b, a.Phone)
		b = append(b, `}]`...)
	}
	b = append(b, `,"schemas":["`+UserSchema+`","`+EnterpriseSchema+`","`+AccountSchema+`"]`...)
	b = append(b, `,"`+AccountSchema+`":{`...)
	sep := ""
	if len(v.links) > 0 {
		b = append(b, `"linkedIdentities":[`...)
		for i, l := range v.links {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"externalId":`...)
			b = appendJSONString(b, l.ExternalID)
			b = append(b, `,"source":`...)
			b = appendJSONString(b, l.Source)
			b = append(b, `,"status":`...)
			b = appendJSONString(b, string(l.Status))
			b = append(b, '}')
		}
		b = append(b, ']')
		sep = ","
	}
	if len(v.merged) > 0 {
		b = append(b, sep+`"mergedIds":[`...)
		for i, id := range v.merged {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, id)
		}
		b = append(b, ']')
		sep = ","
	}
	if len(v.members) > 0 {
		b = append(b, sep+`"orgs":[`...)
		for i, m := range v.members {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"display":`...)
			b = appendJSONString(b, orgNames[m.OrgID])
			b = append(b, `,"role":`...)
			b = appendJSONString(b, string(m.Role))
			b = append(b, `,"state":`...)
			b = appendJSONString(b, string(m.State))
			b = append(b, `,"value":`...)
			b = appendJSONString(b, m.OrgID)
			b = append(b, '}')
		}
		b = append(b, ']')
		sep = ","
	}
	b = append(b, sep+`"status":`...)
	b = appendJSONString(b, string(a.Status))
	b = append(b, '}')
	if ids := a.Attributes[mapping.FieldSupannEmpID]; len(ids) > 0 {
		b = append(b, `,"`+EnterpriseSchema+`":{"employeeNumber":`...)
		b = appendJSONString(b, ids[0])
		b = append(b, '}')
	}
	b = append(b, `,"userName":`...)
	b = appendJSONString(b, userName(v))
	return append(b, '}')
}

// appendJSONTime appends t as the library writes meta times: RFC 3339 in
// UTC, to the second.
func appendJSONTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339)
	return append(b, '"')
}

// appendJSONString appends s as a JSON string exactly as encoding/json
// writes it: <, > and & escaped, invalid UTF-8 replaced by U+FFFD, U+2028
// and U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
