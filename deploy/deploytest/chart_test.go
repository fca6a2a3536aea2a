package deploytest

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// chartDir is the canonid chart.
const chartDir = "../helm/canonid"

// render renders the chart with overrides, strictly, failing the test on
// any error, and returns it with its documents by kind.
func render(t *testing.T, rel Release, values map[string]any) (Rendered, map[string][]map[string]any) {
	t.Helper()
	r, err := RenderChart(chartDir, Options{Release: rel, Values: values})
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	docs, err := r.Documents()
	if err != nil {
		t.Fatalf("rendered manifests are not YAML: %v", err)
	}
	byKind := map[string][]map[string]any{}
	for _, d := range docs {
		kind, _ := d["kind"].(string)
		if kind == "" || d["apiVersion"] == nil {
			t.Fatalf("document without apiVersion or kind: %v", d)
		}
		byKind[kind] = append(byKind[kind], d)
	}
	return r, byKind
}

// get walks a decoded document: string keys for maps, ints for sequences.
func get(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("at %q: %T is not a mapping (path %v)", k, v, path)
			}
			v = m[k]
		case int:
			s, ok := v.([]any)
			if !ok || k >= len(s) {
				t.Fatalf("at [%d]: not a sequence that long (path %v)", k, path)
			}
			v = s[k]
		}
	}
	return v
}

func kinds(byKind map[string][]map[string]any) []string {
	var out []string
	for k, docs := range byKind {
		for range docs {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func one(t *testing.T, byKind map[string][]map[string]any, kind string) map[string]any {
	t.Helper()
	if len(byKind[kind]) != 1 {
		t.Fatalf("want one %s, got %d", kind, len(byKind[kind]))
	}
	return byKind[kind][0]
}

// container is the Deployment's only container.
func container(t *testing.T, dep map[string]any) map[string]any {
	t.Helper()
	cs := get(t, dep, "spec", "template", "spec", "containers").([]any)
	if len(cs) != 1 {
		t.Fatalf("want one container, got %d", len(cs))
	}
	return cs[0].(map[string]any)
}

var configVar = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

func TestDeployChartDefaults(t *testing.T) {
	r, byKind := render(t, Release{}, nil)

	// Exactly these objects, each named after the release, labelled alike.
	if got, want := kinds(byKind), []string{"ConfigMap", "Deployment", "PodDisruptionBudget", "Secret", "Service"}; !slices.Equal(got, want) {
		t.Fatalf("kinds = %v, want %v (no Ingress by default)", got, want)
	}
	for kind, docs := range byKind {
		d := docs[0]
		if name := get(t, d, "metadata", "name"); name != "canonid" {
			t.Errorf("%s is named %v, want canonid", kind, name)
		}
		if l := get(t, d, "metadata", "labels", "app.kubernetes.io/name"); l != "canonid" {
			t.Errorf("%s label app.kubernetes.io/name = %v", kind, l)
		}
	}

	dep := one(t, byKind, "Deployment")
	c := container(t, dep)
	if n := get(t, dep, "spec", "replicas"); n != 2 {
		t.Errorf("replicas = %v, want 2", n)
	}
	if img := c["image"]; img != "canonid:0.1.0" {
		t.Errorf("image = %v, want the repository at the chart's appVersion", img)
	}
	if args := c["args"]; !reflect.DeepEqual(args, []any{"serve", "--config", "/etc/canonid/canonid.yaml"}) {
		t.Errorf("args = %v", args)
	}

	// Selectors: the Service and the PodDisruptionBudget select the pods
	// the Deployment makes.
	sel := get(t, dep, "spec", "selector", "matchLabels").(map[string]any)
	podLabels := get(t, dep, "spec", "template", "metadata", "labels").(map[string]any)
	for k, v := range sel {
		if podLabels[k] != v {
			t.Errorf("pod template lacks selector label %s=%v", k, v)
		}
	}
	svc := one(t, byKind, "Service")
	if s := get(t, svc, "spec", "selector"); !reflect.DeepEqual(s, any(sel)) {
		t.Errorf("Service selects %v, the Deployment %v", s, sel)
	}
	pdb := one(t, byKind, "PodDisruptionBudget")
	if s := get(t, pdb, "spec", "selector", "matchLabels"); !reflect.DeepEqual(s, any(sel)) {
		t.Errorf("PodDisruptionBudget selects %v, the Deployment %v", s, sel)
	}
	if m := get(t, pdb, "spec", "minAvailable"); m != 1 {
		t.Errorf("minAvailable = %v, want 1", m)
	}

	// Ports: the Service targets the container's named port, which is the
	// port canonid listens on according to its configuration.
	if tp := get(t, svc, "spec", "ports", 0, "targetPort"); tp != "http" {
		t.Errorf("Service targetPort = %v, want http", tp)
	}
	if p := get(t, c, "ports", 0); get(t, p, "name") != "http" || get(t, p, "containerPort") != 8080 {
		t.Errorf("container port = %v, want http 8080", p)
	}
	cm := one(t, byKind, "ConfigMap")
	text, _ := get(t, cm, "data", "canonid.yaml").(string)
	var cfg struct {
		Listen string `yaml:"listen"`
	}
	if err := yaml.Unmarshal([]byte(text), &cfg); err != nil {
		t.Fatalf("canonid.yaml in the ConfigMap: %v", err)
	}
	if _, port, err := net.SplitHostPort(cfg.Listen); err != nil || port != "8080" {
		t.Errorf("config listen = %q, want port 8080 (the containerPort)", cfg.Listen)
	}

	// Probes: on canonid's endpoints, by the named port (what they answer
	// is checked in cmd/canonid/deploy_test.go).
	for probe, path := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz", "startupProbe": "/healthz"} {
		if got := get(t, c, probe, "httpGet", "path"); got != path {
			t.Errorf("%s path = %v, want %s", probe, got, path)
		}
		if got := get(t, c, probe, "httpGet", "port"); got != "http" {
			t.Errorf("%s port = %v, want http", probe, got)
		}
	}

	// Security: non-root, read-only root, no privilege escalation, no
	// capabilities, no service account token; /tmp writable.
	psc := get(t, dep, "spec", "template", "spec", "securityContext")
	if get(t, psc, "runAsNonRoot") != true {
		t.Error("pod securityContext.runAsNonRoot is not true")
	}
	if u, ok := get(t, psc, "runAsUser").(int); !ok || u == 0 {
		t.Errorf("pod runAsUser = %v, want a non-zero uid", get(t, psc, "runAsUser"))
	}
	csc := c["securityContext"]
	if get(t, csc, "readOnlyRootFilesystem") != true || get(t, csc, "allowPrivilegeEscalation") != false {
		t.Errorf("container securityContext = %v", csc)
	}
	if drop := get(t, csc, "capabilities", "drop"); !reflect.DeepEqual(drop, []any{"ALL"}) {
		t.Errorf("capabilities.drop = %v, want [ALL]", drop)
	}
	if get(t, dep, "spec", "template", "spec", "automountServiceAccountToken") != false {
		t.Error("the service account token is mounted")
	}
	mounts := map[string]string{}
	for _, m := range c["volumeMounts"].([]any) {
		mounts[get(t, m, "mountPath").(string)] = get(t, m, "name").(string)
	}
	if mounts["/etc/canonid"] != "config" || mounts["/tmp"] != "tmp" {
		t.Errorf("volume mounts = %v, want config on /etc/canonid and tmp on /tmp", mounts)
	}
	if name := get(t, dep, "spec", "template", "spec", "volumes", 0, "configMap", "name"); name != get(t, cm, "metadata", "name") {
		t.Errorf("config volume is ConfigMap %v, not the chart's", name)
	}

	// Resources: requests and a memory limit.
	for _, p := range [][]any{{"requests", "cpu"}, {"requests", "memory"}, {"limits", "memory"}} {
		if get(t, c["resources"], p...) == nil {
			t.Errorf("resources.%v is not set", p)
		}
	}

	// Secrets: the container's environment comes from the Secret, which
	// holds every variable the configuration reads, each a placeholder
	// that NOTES.txt warns about.
	sec := one(t, byKind, "Secret")
	if name := get(t, c, "envFrom", 0, "secretRef", "name"); name != get(t, sec, "metadata", "name") {
		t.Errorf("envFrom secret %v is not the chart's Secret", name)
	}
	data := get(t, sec, "stringData").(map[string]any)
	for _, m := range configVar.FindAllStringSubmatch(text, -1) {
		v, ok := data[m[1]].(string)
		switch {
		case !ok:
			t.Errorf("the configuration reads ${%s}, which the Secret does not hold as a string", m[1])
		case !strings.HasPrefix(v, "CHANGE-ME"):
			t.Errorf("secret %s = %q is not an obvious placeholder", m[1], v)
		case !strings.Contains(r.Notes, "WARNING: secrets.env."+m[1]+" is still the chart's placeholder"):
			t.Errorf("NOTES.txt does not warn about the placeholder %s", m[1])
		}
	}
	if strings.Contains(text, "CHANGE-ME") {
		t.Error("the ConfigMap holds a secret value")
	}

	// The pods roll when the configuration or the secrets change.
	ann := get(t, dep, "spec", "template", "metadata", "annotations").(map[string]any)
	for key, file := range map[string]string{"checksum/config": "configmap.yaml", "checksum/secret": "secret.yaml"} {
		sum := sha256.Sum256([]byte(r.Manifests["canonid/templates/"+file]))
		if ann[key] != hex.EncodeToString(sum[:]) {
			t.Errorf("%s = %v, want the SHA-256 of the rendered %s", key, ann[key], file)
		}
	}

	if !strings.Contains(r.Notes, "https://id.example.org/.well-known/openid-configuration") || strings.Contains(r.Notes, "SQLite") {
		t.Errorf("NOTES.txt:\n%s", r.Notes)
	}
}

func TestDeployChartOptions(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rel    Release
		values map[string]any
		check  func(t *testing.T, r Rendered, byKind map[string][]map[string]any)
	}{
		{
			name:   "ingress enabled",
			values: map[string]any{"ingress": map[string]any{"enabled": true, "className": "nginx", "tls": []any{map[string]any{"secretName": "canonid-tls", "hosts": []any{"id.example.org"}}}}},
			check: func(t *testing.T, r Rendered, byKind map[string][]map[string]any) {
				ing := one(t, byKind, "Ingress")
				svc := one(t, byKind, "Service")
				rule := get(t, ing, "spec", "rules", 0)
				if get(t, rule, "host") != "id.example.org" {
					t.Errorf("host = %v", get(t, rule, "host"))
				}
				backend := get(t, rule, "http", "paths", 0, "backend", "service")
				if get(t, backend, "name") != get(t, svc, "metadata", "name") || get(t, backend, "port", "name") != get(t, svc, "spec", "ports", 0, "name") {
					t.Errorf("backend %v is not the Service's port", backend)
				}
				if get(t, ing, "spec", "ingressClassName") != "nginx" || get(t, ing, "spec", "tls", 0, "secretName") != "canonid-tls" {
					t.Errorf("ingress spec = %v", get(t, ing, "spec"))
				}
			},
		},
		{
			name:   "one replica has no disruption budget",
			values: map[string]any{"replicaCount": 1},
			check: func(t *testing.T, r Rendered, byKind map[string][]map[string]any) {
				if len(byKind["PodDisruptionBudget"]) != 0 {
					t.Error("a PodDisruptionBudget with one replica would block node drains")
				}
				if get(t, one(t, byKind, "Deployment"), "spec", "replicas") != 1 {
					t.Error("replicas is not 1")
				}
			},
		},
		{
			name:   "existing secret",
			values: map[string]any{"secrets": map[string]any{"existingSecret": "canonid-from-vault"}},
			check: func(t *testing.T, r Rendered, byKind map[string][]map[string]any) {
				if len(byKind["Secret"]) != 0 {
					t.Error("a Secret is rendered although existingSecret is set")
				}
				dep := one(t, byKind, "Deployment")
				if name := get(t, container(t, dep), "envFrom", 0, "secretRef", "name"); name != "canonid-from-vault" {
					t.Errorf("envFrom secret = %v", name)
				}
				if _, ok := get(t, dep, "spec", "template", "metadata", "annotations").(map[string]any)["checksum/secret"]; ok {
					t.Error("checksum/secret of a Secret the chart does not render")
				}
				if strings.Contains(r.Notes, "WARNING") {
					t.Errorf("NOTES.txt warns:\n%s", r.Notes)
				}
			},
		},
		{
			name:   "release name",
			rel:    Release{Name: "prod", Namespace: "identity"},
			values: map[string]any{"podAnnotations": map[string]any{"prometheus.io/scrape": "true"}},
			check: func(t *testing.T, r Rendered, byKind map[string][]map[string]any) {
				dep := one(t, byKind, "Deployment")
				if n := get(t, dep, "metadata", "name"); n != "prod-canonid" {
					t.Errorf("name = %v, want prod-canonid", n)
				}
				ann := get(t, dep, "spec", "template", "metadata", "annotations").(map[string]any)
				if ann["prometheus.io/scrape"] != "true" || ann["checksum/config"] == nil {
					t.Errorf("pod annotations = %v", ann)
				}
				if !strings.Contains(r.Notes, "kubectl -n identity") {
					t.Errorf("NOTES.txt ignores the namespace:\n%s", r.Notes)
				}
			},
		},
		{
			name: "release name holding the chart name",
			rel:  Release{Name: "canonid-staging"},
			check: func(t *testing.T, r Rendered, byKind map[string][]map[string]any) {
				if n := get(t, one(t, byKind, "Service"), "metadata", "name"); n != "canonid-staging" {
					t.Errorf("name = %v, want canonid-staging", n)
				}
			},
		},
		{
			name:   "long fullnameOverride",
			values: map[string]any{"fullnameOverride": strings.Repeat("a", 62) + "-b"},
			check: func(t *testing.T, r Rendered, byKind map[string][]map[string]any) {
				if n := get(t, one(t, byKind, "Service"), "metadata", "name"); n != strings.Repeat("a", 62) {
					t.Errorf("name = %v, want 62 a's (63 characters at most, no trailing dash)", n)
				}
			},
		},
		{
			name:   "several replicas on SQLite",
			values: map[string]any{"config": map[string]any{"storage": map[string]any{"driver": "sqlite", "dsn": "/data/canonid.db"}}},
			check: func(t *testing.T, r Rendered, byKind map[string][]map[string]any) {
				if !strings.Contains(r.Notes, "2 replicas need config.storage.driver: postgres") {
					t.Errorf("NOTES.txt does not warn:\n%s", r.Notes)
				}
			},
		},
		{
			name:   "removing a default key with null",
			values: map[string]any{"config": map[string]any{"mail": nil}},
			check: func(t *testing.T, r Rendered, byKind map[string][]map[string]any) {
				text := get(t, one(t, byKind, "ConfigMap"), "data", "canonid.yaml").(string)
				if strings.Contains(text, "mail:") || !strings.Contains(text, "storage:") {
					t.Errorf("canonid.yaml:\n%s", text)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, byKind := render(t, tc.rel, tc.values)
			tc.check(t, r, byKind)
		})
	}
}

// TestDeployChartFiles checks the chart's own files. The templates use no
// function outside FuncMap: parsing them would fail otherwise, and every
// test above parses all of them.
func TestDeployChartFiles(t *testing.T) {
	var meta chartMeta
	if err := readYAML(chartDir+"/Chart.yaml", &meta); err != nil {
		t.Fatal(err)
	}
	if meta.Name != "canonid" || meta.Version == "" || meta.AppVersion == "" {
		t.Errorf("Chart.yaml = %+v", meta)
	}
	var values map[string]any
	if err := readYAML(chartDir+"/values.yaml", &values); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"replicaCount", "image", "config", "secrets", "resources", "livenessProbe", "readinessProbe", "service", "ingress", "podDisruptionBudget", "podSecurityContext", "securityContext"} {
		if _, ok := values[k]; !ok {
			t.Errorf("values.yaml has no %s", k)
		}
	}
	if values["replicaCount"] != 2 {
		t.Errorf("replicaCount = %v, want 2", values["replicaCount"])
	}
	if get(t, values, "ingress", "enabled") != false {
		t.Error("the ingress is enabled by default")
	}
	// helm template leaves "<no value>" out where a key is missing; the
	// defaults must not need that.
	lenient, err := RenderChart(chartDir, Options{Lenient: true})
	if err != nil {
		t.Fatal(err)
	}
	strict, _ := render(t, Release{}, nil)
	if !reflect.DeepEqual(lenient.Manifests, strict.Manifests) {
		t.Error("lenient and strict renderings differ")
	}
}

func TestDeployFuncMap(t *testing.T) {
	f := FuncMap(nil)
	call := func(name string, args ...any) any {
		out := reflect.ValueOf(f[name]).Call(func() []reflect.Value {
			var vs []reflect.Value
			for _, a := range args {
				vs = append(vs, reflect.ValueOf(a))
			}
			return vs
		}())
		return out[0].Interface()
	}
	for _, tc := range []struct {
		fn   string
		args []any
		want any
	}{
		{"indent", []any{2, "a\nb"}, "  a\n  b"},
		{"nindent", []any{4, "a"}, "\n    a"},
		{"trunc", []any{3, "abcdef"}, "abc"},
		{"trunc", []any{-2, "abcdef"}, "ef"},
		{"trunc", []any{10, "abc"}, "abc"},
		{"trimSuffix", []any{"-", "abc-"}, "abc"},
		{"contains", []any{"can", "canonid-prod"}, true},
		{"quote", []any{"a\"b", 8080.0}, `"a\"b" "8080"`},
		{"default", []any{"d", ""}, "d"},
		{"default", []any{"d", "x"}, "x"},
		{"default", []any{"d", 0.0}, "d"},
		{"default", []any{"d", false}, "d"},
		{"int", []any{2.0}, 2},
		{"int", []any{"3"}, 3},
		{"sha256sum", []any{""}, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		// Helm's toYaml: sorted keys, numbers as JSON gives them (no
		// 1e+06), strings quoted only where YAML would read something else.
		{"toYaml", []any{map[string]any{"b": 1e6, "a": []any{"x"}, "c": "8080", "d": true, "e": "", "f": map[string]any{}, "g": "${X}"}},
			"a:\n  - x\nb: 1000000\nc: \"8080\"\nd: true\ne: \"\"\nf: {}\ng: ${X}"},
	} {
		if got := call(tc.fn, tc.args...); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s %v = %#v, want %#v", tc.fn, tc.args, got, tc.want)
		}
	}
}
