package sqlstore

import (
	"encoding/json"
	"unicode/utf8"
)

// The account and link columns hold flat JSON objects: attributes map a
// name to a list of strings, provenance a field to a source. Decoding them
// with encoding/json was a tenth of the CPU time of a page of SCIM users;
// decodeStrings and decodeStringLists read the common case, strings
// without escapes, directly, and hand anything else to encoding/json, so
// the result is always json.Unmarshal's.

// decodeStrings decodes a JSON object of strings into *m as json.Unmarshal
// does.
func decodeStrings(doc []byte, m *map[string]string) error {
	return decodeFlat(doc, m, (*flatParser).str)
}

// decodeStringLists decodes a JSON object of lists of strings into *m as
// json.Unmarshal does.
func decodeStringLists(doc []byte, m *map[string][]string) error {
	return decodeFlat(doc, m, (*flatParser).list)
}

// decodeFlat decodes a JSON object whose values value reads, or hands doc
// to encoding/json at the first thing it does not expect.
func decodeFlat[V any](doc []byte, m *map[string]V, value func(*flatParser) (V, bool)) error {
	if !flatDecodable(doc) {
		return json.Unmarshal(doc, m)
	}
	p := flatParser{doc: doc}
	if !p.open() {
		return json.Unmarshal(doc, m)
	}
	// Nothing is stored before the whole document is read: on an error
	// json.Unmarshal leaves *m as it was.
	out := map[string]V{}
	for more := !p.close(); more; {
		k, ok := p.key()
		if !ok {
			return json.Unmarshal(doc, m)
		}
		v, ok := value(&p)
		if !ok {
			return json.Unmarshal(doc, m)
		}
		out[k] = v
		if more, ok = p.next(); !ok {
			return json.Unmarshal(doc, m)
		}
	}
	if !p.end() {
		return json.Unmarshal(doc, m)
	}
	merge(m, out)
	return nil
}

// merge stores the keys of out into *m, or out itself when *m is nil.
func merge[V any](m *map[string]V, out map[string]V) {
	if *m == nil {
		*m = out
		return
	}
	for k, v := range out {
		(*m)[k] = v
	}
}

// flatDecodable reports whether doc can be read without encoding/json:
// valid UTF-8 with no escape sequence.
func flatDecodable(doc []byte) bool {
	for _, c := range doc {
		if c == '\\' {
			return false
		}
	}
	return utf8.Valid(doc)
}

// flatParser reads a flat JSON object; every method reports false on
// anything it does not expect, and the caller falls back to encoding/json.
type flatParser struct {
	doc []byte
	i   int
}

func (p *flatParser) space() {
	for p.i < len(p.doc) {
		switch p.doc[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *flatParser) byte(c byte) bool {
	p.space()
	if p.i < len(p.doc) && p.doc[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *flatParser) open() bool { return p.byte('{') }

// close consumes the } of an empty object.
func (p *flatParser) close() bool { return p.byte('}') }

// next consumes a comma (more to come) or the closing brace.
func (p *flatParser) next() (more, ok bool) {
	if p.byte(',') {
		return true, true
	}
	return false, p.byte('}')
}

func (p *flatParser) end() bool {
	p.space()
	return p.i == len(p.doc)
}

// str reads a string: its bytes up to the next quote (there is no escape),
// with no control character in them.
func (p *flatParser) str() (string, bool) {
	if !p.byte('"') {
		return "", false
	}
	start := p.i
	for p.i < len(p.doc) {
		c := p.doc[p.i]
		if c == '"' {
			s := string(p.doc[start:p.i])
			p.i++
			return s, true
		}
		if c < 0x20 {
			return "", false
		}
		p.i++
	}
	return "", false
}

func (p *flatParser) key() (string, bool) {
	k, ok := p.str()
	return k, ok && p.byte(':')
}

// list reads a list of strings; null reads as a nil list.
func (p *flatParser) list() ([]string, bool) {
	p.space()
	if len(p.doc)-p.i >= 4 && string(p.doc[p.i:p.i+4]) == "null" {
		p.i += 4
		return nil, true
	}
	if !p.byte('[') {
		return nil, false
	}
	out := []string{}
	if p.byte(']') {
		return out, true
	}
	for {
		s, ok := p.str()
		if !ok {
			return nil, false
		}
		out = append(out, s)
		if p.byte(',') {
			continue
		}
		return out, p.byte(']')
	}
}
