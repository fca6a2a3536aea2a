package mapping

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// UnmarshalYAML decodes a Spec. A scalar is a preset name:
//
//	mapping: supann
//
// A map takes target field -> rule, and the optional key preset:
//
//	mapping:
//	  preset: supann
//	  family_name: Nom                      # one source attribute
//	  login: [supannAliasLogin, uid]        # source attributes in order
//	  birth_date:                           # a full rule
//	    from: "Date de naissance"           # one name or a list
//	    transforms: ["date:DD/MM/YYYY"]     # "name:arg", or {name: arg}
//	    required: true
//
// Transforms may also be written as one-key maps, `- regex: '^\{APOGEE\}(.+)$'`
// being `regex:^\{APOGEE\}(.+)$`. Structural problems (a rule of the wrong
// shape, an unknown rule key, a field given twice) are reported all at once,
// each with its line, as a *yaml.TypeError, so that the decoder goes on with
// the rest of the document; unknown fields, presets and transforms are left
// to Validate.
func (s *Spec) UnmarshalYAML(n *yaml.Node) error {
	var d specDecoder
	*s = d.spec(n)
	if len(d.errs) > 0 {
		return &yaml.TypeError{Errors: d.errs}
	}
	return nil
}

// specDecoder collects the problems of one Spec's YAML.
type specDecoder struct {
	errs []string
}

func (d *specDecoder) errorf(n *yaml.Node, format string, args ...any) {
	d.errs = append(d.errs, fmt.Sprintf("line %d: ", n.Line)+fmt.Sprintf(format, args...))
}

// resolve follows aliases and unwraps a document node.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil {
		switch {
		case n.Kind == yaml.AliasNode && n.Alias != nil:
			n = n.Alias
		case n.Kind == yaml.DocumentNode && len(n.Content) == 1:
			n = n.Content[0]
		default:
			return n
		}
	}
	return n
}

// isString reports whether n is a non-null scalar.
func isString(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() != "!!null"
}

func (d *specDecoder) spec(n *yaml.Node) Spec {
	n = resolve(n)
	var s Spec
	switch {
	case isString(n):
		s.Preset = n.Value
		return s
	case n.Kind == yaml.MappingNode:
	default:
		d.errorf(n, "mapping: want a preset name or a map of target field -> rule, got %s", describe(n))
		return s
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if !isString(k) {
			d.errorf(k, "mapping: want a target field name as key, got %s", describe(k))
			continue
		}
		name := k.Value
		if line, dup := seen[name]; dup {
			d.errorf(k, "%s: given twice (first on line %d)", name, line)
			continue
		}
		seen[name] = k.Line
		if name == "preset" {
			if !isString(v) {
				d.errorf(v, "preset: want a preset name, got %s", describe(v))
				continue
			}
			s.Preset = v.Value
			continue
		}
		fs, ok := d.rule(name, v)
		if !ok {
			continue
		}
		if s.Fields == nil {
			s.Fields = map[string]FieldSpec{}
		}
		s.Fields[name] = fs
	}
	return s
}

// rule decodes the rule of one field: an attribute name, a list of them, or
// a map with from, transforms and required.
func (d *specDecoder) rule(field string, n *yaml.Node) (FieldSpec, bool) {
	var fs FieldSpec
	switch {
	case isString(n), n.Kind == yaml.SequenceNode:
		from, ok := d.names(field, n)
		fs.From = from
		return fs, ok
	case n.Kind != yaml.MappingNode:
		d.errorf(n, "%s: want a source attribute, a list of them or a rule (from, transforms, required), got %s", field, describe(n))
		return fs, false
	}
	ok := true
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if !isString(k) {
			d.errorf(k, "%s: want from, transforms or required as key, got %s", field, describe(k))
			ok = false
			continue
		}
		if line, dup := seen[k.Value]; dup {
			d.errorf(k, "%s.%s: given twice (first on line %d)", field, k.Value, line)
			ok = false
			continue
		}
		seen[k.Value] = k.Line
		switch k.Value {
		case "from":
			from, fok := d.names(field+".from", v)
			fs.From, ok = from, ok && fok
		case "transforms":
			ts, tok := d.transforms(field+".transforms", v)
			fs.Transforms, ok = ts, ok && tok
		case "required":
			if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!bool" || v.Decode(&fs.Required) != nil {
				d.errorf(v, "%s.required: want true or false, got %s", field, describe(v))
				ok = false
			}
		default:
			d.errorf(k, "%s: unknown key %q (want from, transforms or required)", field, k.Value)
			ok = false
		}
	}
	return fs, ok
}

// names decodes one source attribute name or a list of them.
func (d *specDecoder) names(key string, n *yaml.Node) ([]string, bool) {
	if isString(n) {
		return []string{n.Value}, true
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "%s: want a source attribute or a list of them, got %s", key, describe(n))
		return nil, false
	}
	ok := true
	names := make([]string, 0, len(n.Content))
	for i, c := range n.Content {
		c = resolve(c)
		if !isString(c) {
			d.errorf(c, "%s[%d]: want a source attribute name, got %s", key, i, describe(c))
			ok = false
			continue
		}
		names = append(names, c.Value)
	}
	return names, ok
}

// transforms decodes a list of transforms, each a string "name[:arg]" or a
// one-key map {name: arg}. A lone string is a list of one.
func (d *specDecoder) transforms(key string, n *yaml.Node) ([]string, bool) {
	if isString(n) {
		return []string{n.Value}, true
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "%s: want a list of transforms, got %s", key, describe(n))
		return nil, false
	}
	ok := true
	ts := make([]string, 0, len(n.Content))
	for i, c := range n.Content {
		c = resolve(c)
		switch {
		case isString(c):
			ts = append(ts, c.Value)
		case c.Kind == yaml.MappingNode && len(c.Content) == 2 && isString(resolve(c.Content[0])) && isString(resolve(c.Content[1])):
			ts = append(ts, resolve(c.Content[0]).Value+":"+resolve(c.Content[1]).Value)
		default:
			d.errorf(c, `%s[%d]: want a transform such as "lower" or "date:YYYYMMDD", got %s`, key, i, describe(c))
			ok = false
		}
	}
	return ts, ok
}

// describe names a node's kind for an error message.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a map"
	}
	return "an alias"
}
