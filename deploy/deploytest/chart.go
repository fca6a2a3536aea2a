package deploytest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"go.yaml.in/yaml/v3"
)

// Release names the release a chart is rendered for (.Release).
type Release struct {
	Name      string
	Namespace string
}

// Rendered is a rendered chart.
type Rendered struct {
	// Manifests maps each template file that rendered to something other
	// than white space, by its Helm name ("canonid/templates/service.yaml"),
	// to its output.
	Manifests map[string]string
	// Notes is templates/NOTES.txt rendered, or empty.
	Notes string
	// Values are the values the templates saw: values.yaml with the
	// overrides merged in.
	Values map[string]any
}

// Options tune RenderChart.
type Options struct {
	// Release defaults to {Name: "canonid", Namespace: "default"}.
	Release Release
	// Values are merged over values.yaml as helm --values would: maps
	// key by key, other values replaced, a nil value removing the key.
	Values map[string]any
	// Lenient renders a missing map key as an empty string, as helm
	// template does. By default a missing key is an error, as with
	// helm lint --strict.
	Lenient bool
}

// chartMeta is the part of Chart.yaml the templates read (.Chart).
type chartMeta struct {
	APIVersion string `yaml:"apiVersion"`
	Name       string `yaml:"name"`
	Version    string `yaml:"version"`
	AppVersion string `yaml:"appVersion"`
}

// RenderChart renders the chart in dir (Chart.yaml, values.yaml,
// templates/) as helm template would.
func RenderChart(dir string, opts Options) (Rendered, error) {
	var meta chartMeta
	if err := readYAML(filepath.Join(dir, "Chart.yaml"), &meta); err != nil {
		return Rendered{}, err
	}
	if meta.APIVersion != "v2" || meta.Name == "" || meta.Version == "" {
		return Rendered{}, fmt.Errorf("%s: Chart.yaml needs apiVersion v2, a name and a version", dir)
	}
	var raw any
	if err := readYAML(filepath.Join(dir, "values.yaml"), &raw); err != nil {
		return Rendered{}, err
	}
	values, err := helmValues(raw)
	if err != nil {
		return Rendered{}, fmt.Errorf("values.yaml: %w", err)
	}
	if opts.Values != nil {
		over, err := helmValues(opts.Values)
		if err != nil {
			return Rendered{}, fmt.Errorf("override values: %w", err)
		}
		mergeValues(values, over)
	}
	rel := opts.Release
	if rel.Name == "" {
		rel.Name = "canonid"
	}
	if rel.Namespace == "" {
		rel.Namespace = "default"
	}

	base := meta.Name + "/templates"
	files, err := os.ReadDir(filepath.Join(dir, "templates"))
	if err != nil {
		return Rendered{}, err
	}
	t := template.New("chart")
	if opts.Lenient {
		t.Option("missingkey=zero")
	} else {
		t.Option("missingkey=error")
	}
	t.Funcs(FuncMap(t))
	var names []string
	for _, f := range files {
		if f.IsDir() {
			continue
		}
		text, err := os.ReadFile(filepath.Join(dir, "templates", f.Name()))
		if err != nil {
			return Rendered{}, err
		}
		name := base + "/" + f.Name()
		if _, err := t.New(name).Parse(string(text)); err != nil {
			return Rendered{}, err
		}
		names = append(names, name)
	}
	sort.Strings(names)

	out := Rendered{Manifests: map[string]string{}, Values: values}
	for _, name := range names {
		file := path.Base(name)
		if strings.HasPrefix(file, "_") {
			continue // partials hold named templates only
		}
		data := map[string]any{
			"Values": values,
			"Release": map[string]any{
				"Name": rel.Name, "Namespace": rel.Namespace, "Service": "Helm",
				"IsInstall": true, "IsUpgrade": false, "Revision": 1,
			},
			"Chart": map[string]any{
				"Name": meta.Name, "Version": meta.Version, "AppVersion": meta.AppVersion,
			},
			"Template": map[string]any{"Name": name, "BasePath": base},
		}
		var b bytes.Buffer
		if err := t.ExecuteTemplate(&b, name, data); err != nil {
			return Rendered{}, err
		}
		text := strings.ReplaceAll(b.String(), "<no value>", "")
		switch {
		case file == "NOTES.txt":
			out.Notes = text
		case strings.TrimSpace(text) != "":
			out.Manifests[name] = text
		}
	}
	return out, nil
}

// Documents parses every manifest of r into its YAML documents, in the
// order of the template names, leaving out empty ones (a file holding only
// comments).
func (r Rendered) Documents() ([]map[string]any, error) {
	names := make([]string, 0, len(r.Manifests))
	for n := range r.Manifests {
		names = append(names, n)
	}
	sort.Strings(names)
	var docs []map[string]any
	for _, n := range names {
		dec := yaml.NewDecoder(strings.NewReader(r.Manifests[n]))
		for {
			var doc map[string]any
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w\n%s", n, err, r.Manifests[n])
			}
			if doc != nil {
				docs = append(docs, doc)
			}
		}
	}
	return docs, nil
}

// FuncMap returns the functions the chart's templates may use besides Go's
// built-ins, with Helm's and Sprig's semantics: include (which executes a
// named template of t), toYaml, indent, nindent, quote, default, contains,
// trunc, trimSuffix, int and sha256sum. A template calling anything else
// fails to parse.
func FuncMap(t *template.Template) template.FuncMap {
	return template.FuncMap{
		"include": func(name string, data any) (string, error) {
			var b bytes.Buffer
			err := t.ExecuteTemplate(&b, name, data)
			return b.String(), err
		},
		"toYaml":  toYAML,
		"indent":  indent,
		"nindent": func(n int, s string) string { return "\n" + indent(n, s) },
		"quote": func(vs ...any) string {
			out := make([]string, 0, len(vs))
			for _, v := range vs {
				if v != nil {
					out = append(out, strconv.Quote(strval(v)))
				}
			}
			return strings.Join(out, " ")
		},
		"default": func(def any, given ...any) any {
			if len(given) == 0 || empty(given[0]) {
				return def
			}
			return given[0]
		},
		"contains":   func(sub, s string) bool { return strings.Contains(s, sub) },
		"trunc":      trunc,
		"trimSuffix": func(suffix, s string) string { return strings.TrimSuffix(s, suffix) },
		"int":        toInt,
		"sha256sum": func(s string) string {
			sum := sha256.Sum256([]byte(s))
			return hex.EncodeToString(sum[:])
		},
	}
}

// helmValues normalises values as Helm's YAML reading does (YAML to JSON to
// Go): maps become map[string]any and every number a float64.
func helmValues(v any) (map[string]any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, err
	}
	if out == nil {
		out = map[string]any{}
	}
	return out, nil
}

// mergeValues merges over into dst as Helm coalesces user values into a
// chart's.
func mergeValues(dst, over map[string]any) {
	for k, v := range over {
		if v == nil {
			delete(dst, k)
			continue
		}
		dm, dok := dst[k].(map[string]any)
		om, ook := v.(map[string]any)
		if dok && ook {
			mergeValues(dm, om)
			continue
		}
		dst[k] = v
	}
}

// toYAML is Helm's toYaml: sigs.k8s.io/yaml's Marshal (JSON, then YAML with
// sorted keys and block style, 2-space indentation) without the final
// newline. An error renders as the empty string, as in Helm.
func toYAML(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil {
		return ""
	}
	blockStyle(&n)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return ""
	}
	_ = enc.Close()
	return strings.TrimSuffix(b.String(), "\n")
}

// blockStyle clears the flow and quoting styles JSON syntax left on n, so
// that the encoder writes block YAML and quotes only what needs it.
func blockStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
}

// indent is Sprig's indent: every line of s prefixed with n spaces.
func indent(n int, s string) string {
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(s, "\n", "\n"+pad)
}

// trunc is Sprig's trunc: the first n bytes of s, or the last -n.
func trunc(n int, s string) string {
	switch {
	case n < 0 && len(s)+n > 0:
		return s[len(s)+n:]
	case n >= 0 && len(s) > n:
		return s[:n]
	}
	return s
}

// strval is Sprig's string conversion.
func strval(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	case error:
		return v.Error()
	case fmt.Stringer:
		return v.String()
	}
	return fmt.Sprintf("%v", v)
}

// empty is Sprig's emptiness, which default tests.
func empty(v any) bool {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() {
		return true
	}
	switch rv.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return rv.Len() == 0
	case reflect.Bool:
		return !rv.Bool()
	case reflect.Complex64, reflect.Complex128:
		return rv.Complex() == 0
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return rv.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return rv.Float() == 0
	case reflect.Interface, reflect.Pointer:
		return rv.IsNil()
	}
	return false
}

// toInt is Sprig's int: numbers truncated, strings parsed, anything else 0.
func toInt(v any) int {
	switch v := v.(type) {
	case int:
		return v
	case int64:
		return int(v)
	case float64:
		return int(v)
	case string:
		n, _ := strconv.Atoi(strings.TrimSpace(v))
		return n
	case bool:
		if v {
			return 1
		}
	}
	return 0
}

// readYAML decodes the YAML file at path into v.
func readYAML(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
