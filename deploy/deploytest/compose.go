package deploytest

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Compose is the part of a compose file the tests read.
type Compose struct {
	Name     string                    `yaml:"name"`
	Services map[string]ComposeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

// ComposeService is one service of a compose file. Environment is the
// mapping form (the list form is refused, to keep one way of writing it).
type ComposeService struct {
	Image       string            `yaml:"image"`
	Build       *ComposeBuild     `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	Ports       []string          `yaml:"ports"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck *struct {
		Test     []string `yaml:"test"`
		Interval string   `yaml:"interval"`
		Timeout  string   `yaml:"timeout"`
		Retries  int      `yaml:"retries"`
	} `yaml:"healthcheck"`
	ReadOnly    bool     `yaml:"read_only"`
	Tmpfs       []string `yaml:"tmpfs"`
	CapDrop     []string `yaml:"cap_drop"`
	SecurityOpt []string `yaml:"security_opt"`
	Restart     string   `yaml:"restart"`
}

// ComposeBuild is a service's build section.
type ComposeBuild struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
}

// LoadCompose reads the compose file at path, interpolating the values of
// the whole file first as docker compose does, with env as the environment
// (nil: empty). Unknown keys are errors.
func LoadCompose(path string, env map[string]string) (Compose, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Compose{}, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return Compose{}, fmt.Errorf("%s: %w", path, err)
	}
	var errs []error
	interpolateNode(&doc, env, &errs)
	if len(errs) > 0 {
		return Compose{}, fmt.Errorf("%s: %w", path, errors.Join(errs...))
	}
	text, err := yaml.Marshal(&doc)
	if err != nil {
		return Compose{}, err
	}
	var c Compose
	dec := yaml.NewDecoder(strings.NewReader(string(text)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return Compose{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// interpolateNode interpolates every scalar value under n (not the keys).
func interpolateNode(n *yaml.Node, env map[string]string, errs *[]error) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			interpolateNode(n.Content[i], env, errs)
		}
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			interpolateNode(c, env, errs)
		}
	case yaml.ScalarNode:
		v, err := Interpolate(n.Value, env)
		if err != nil {
			*errs = append(*errs, fmt.Errorf("line %d: %w", n.Line, err))
			return
		}
		if v != n.Value {
			n.Value, n.Tag, n.Style = v, "!!str", yaml.DoubleQuotedStyle
		}
	}
}

// composeVar matches what follows a $ in compose interpolation.
var composeVar = regexp.MustCompile(`^(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))`)

// Interpolate expands s as docker compose does: $$ is a literal $,
// ${VAR} and $VAR the variable (empty when unset), ${VAR:-default} the
// default when VAR is unset or empty, ${VAR-default} when unset,
// ${VAR:?message} and ${VAR?message} an error when VAR is unset (or
// empty, with the colon).
func Interpolate(s string, env map[string]string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '$' {
			b.WriteByte(s[i])
			i++
			continue
		}
		m := composeVar.FindStringSubmatch(s[i+1:])
		if m == nil {
			return "", fmt.Errorf("invalid interpolation in %q at %d (write $$ for a literal $)", s, i)
		}
		i += 1 + len(m[0])
		switch {
		case m[0] == "$":
			b.WriteByte('$')
		case m[4] != "":
			b.WriteString(env[m[4]])
		default:
			name, op, arg := m[1], m[2], m[3]
			v, set := env[name]
			switch op {
			case "":
				b.WriteString(v)
			case ":-":
				if v == "" {
					v = arg
				}
				b.WriteString(v)
			case "-":
				if !set {
					v = arg
				}
				b.WriteString(v)
			case ":?", "?":
				if !set || (op == ":?" && v == "") {
					return "", fmt.Errorf("%s: %s", name, arg)
				}
				b.WriteString(v)
			}
		}
	}
	return b.String(), nil
}
