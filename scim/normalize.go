package scim

import (
	"encoding/json"
	"fmt"
	"strings"
)

// knownURNs are the schema URNs attribute paths may start with.
var knownURNs = []string{EnterpriseSchema, AccountSchema, UserSchema, GroupSchema}

// isExtension reports whether k is the URN of an extension schema.
func isExtension(k string) bool {
	return strings.EqualFold(k, EnterpriseSchema) || strings.EqualFold(k, AccountSchema)
}

// normalizePatch rewrites a PATCH body into the shapes of RFC 7644 the
// library accepts, from those real clients send:
//   - an operation without a path whose value holds several attributes,
//     with dotted ("name.givenName") or URN-qualified keys, or whole
//     extension objects, becomes one operation per attribute;
//   - a manager given as a plain string becomes {"value": ...};
//   - remove on "members" with a value array (Entra ID) becomes one remove
//     per member, members[value eq "..."].
//
// A body that is not JSON is left for the library to refuse.
func normalizePatch(body []byte) []byte {
	var req map[string]any
	if err := json.Unmarshal(body, &req); err != nil {
		return body
	}
	var opsKey string
	for k := range req {
		if strings.EqualFold(k, "Operations") {
			opsKey = k
		}
	}
	ops, ok := req[opsKey].([]any)
	if !ok {
		return body
	}
	var out []any
	for _, x := range ops {
		op, ok := x.(map[string]any)
		if !ok {
			out = append(out, x)
			continue
		}
		name, _ := getKey(op, "op").(string)
		name = strings.ToLower(name)
		path, _ := getKey(op, "path").(string)
		value := getKey(op, "value")
		switch {
		case path == "" && name != "remove":
			vals, ok := value.(map[string]any)
			if !ok {
				out = append(out, op)
				continue
			}
			for k, v := range vals {
				switch {
				case strings.EqualFold(k, "id"), strings.EqualFold(k, "schemas"), strings.EqualFold(k, "meta"):
					continue // read-only, sent back by some clients
				case isExtension(k):
					if m, ok := v.(map[string]any); ok {
						for sk, sv := range m {
							out = append(out, operation(name, k+":"+sk, sv))
						}
						continue
					}
				}
				out = append(out, operation(name, k, v))
			}
		case name == "remove" && strings.EqualFold(path, "members"):
			list, ok := value.([]any)
			if !ok {
				out = append(out, operation(name, path, value))
				continue
			}
			for _, m := range list {
				if mm, ok := m.(map[string]any); ok {
					if id, ok := getKey(mm, "value").(string); ok {
						out = append(out, map[string]any{"op": "remove", "path": fmt.Sprintf("members[value eq %q]", id)})
					}
				}
			}
		default:
			out = append(out, operation(name, path, value))
		}
	}
	req[opsKey] = out
	b, err := json.Marshal(req)
	if err != nil {
		return body
	}
	return b
}

// operation builds one PATCH operation, mending a string manager.
func operation(name, path string, value any) map[string]any {
	op := map[string]any{"op": name}
	if path != "" {
		op["path"] = path
	}
	if s, ok := value.(string); ok && strings.HasSuffix(strings.ToLower(path), "manager") {
		value = map[string]any{"value": s}
	}
	if value != nil {
		op["value"] = value
	}
	return op
}

// attrPath is a parsed attribute path of attributes/excludedAttributes:
// ext is the extension URN holding it ("" for the core schema).
type attrPath struct{ ext, name, sub string }

func parseAttrPath(p string) attrPath {
	var ap attrPath
	if strings.HasPrefix(strings.ToLower(p), "urn:") {
		for _, u := range knownURNs {
			if len(p) >= len(u) && strings.EqualFold(p[:len(u)], u) && (len(p) == len(u) || p[len(u)] == ':') {
				if isExtension(u) {
					ap.ext = u
				}
				p = strings.TrimPrefix(p[len(u):], ":")
				break
			}
		}
		if p == "" { // the whole extension
			return attrPath{name: ap.ext}
		}
	}
	ap.name, ap.sub, _ = strings.Cut(p, ".")
	return ap
}

// project applies attributes and excludedAttributes (RFC 7644 §3.9) to a
// resource: id and schemas are always returned.
func project(res map[string]any, attrs, excluded []string) {
	if len(attrs) > 0 {
		keep := map[string]any{}
		for _, k := range []string{"id", "schemas"} {
			if v, ok := res[k]; ok {
				keep[k] = v
			}
		}
		for _, p := range attrs {
			copyPath(keep, res, parseAttrPath(p))
		}
		clear(res)
		for k, v := range keep {
			res[k] = v
		}
	}
	for _, p := range excluded {
		ap := parseAttrPath(p)
		if strings.EqualFold(ap.name, "id") || strings.EqualFold(ap.name, "schemas") {
			continue
		}
		src := res
		if ap.ext != "" {
			m, ok := getKey(res, ap.ext).(map[string]any)
			if !ok {
				continue
			}
			src = m
		}
		if ap.sub == "" {
			deleteKey(src, ap.name)
			continue
		}
		switch v := getKey(src, ap.name).(type) {
		case map[string]any:
			deleteKey(v, ap.sub)
		case []any:
			for _, x := range v {
				if m, ok := x.(map[string]any); ok {
					deleteKey(m, ap.sub)
				}
			}
		}
	}
}

// copyPath copies one attribute (or sub-attribute) from src to dst.
func copyPath(dst, src map[string]any, ap attrPath) {
	if ap.ext != "" {
		from, ok := getKey(src, ap.ext).(map[string]any)
		if !ok {
			return
		}
		to, _ := dst[ap.ext].(map[string]any)
		if to == nil {
			to = map[string]any{}
			dst[ap.ext] = to
		}
		copyPath(to, from, attrPath{name: ap.name, sub: ap.sub})
		return
	}
	var key string
	for k := range src {
		if strings.EqualFold(k, ap.name) {
			key = k
		}
	}
	if key == "" {
		return
	}
	v := src[key]
	if ap.sub == "" {
		dst[key] = v
		return
	}
	switch v := v.(type) {
	case map[string]any:
		to, _ := dst[key].(map[string]any)
		if to == nil {
			to = map[string]any{}
			dst[key] = to
		}
		if sv := getKey(v, ap.sub); sv != nil {
			to[ap.sub] = sv
		}
	case []any:
		list := make([]any, 0, len(v))
		for _, x := range v {
			if m, ok := x.(map[string]any); ok {
				if sv := getKey(m, ap.sub); sv != nil {
					list = append(list, map[string]any{ap.sub: sv})
				}
			}
		}
		dst[key] = list
	}
}
