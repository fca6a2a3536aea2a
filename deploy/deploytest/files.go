package deploytest

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// Unit is a systemd unit file: for each section, each key's values in
// order (a key may be given several times; an empty assignment is kept as
// "").
type Unit map[string]map[string][]string

// Get returns the last value of key in section, and whether it is set.
func (u Unit) Get(section, key string) (string, bool) {
	vs := u[section][key]
	if len(vs) == 0 {
		return "", false
	}
	return vs[len(vs)-1], true
}

// ParseUnit reads the systemd unit file at path: [Section] headers,
// Key=Value lines, comments (# and ;) and backslash continuations.
func ParseUnit(path string) (Unit, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	u := Unit{}
	section := ""
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		for strings.HasSuffix(line, `\`) && sc.Scan() {
			n++
			line = strings.TrimSuffix(line, `\`) + " " + strings.TrimSpace(sc.Text())
		}
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && line[len(line)-1] == ']':
			section = line[1 : len(line)-1]
			if u[section] == nil {
				u[section] = map[string][]string{}
			}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				return nil, fmt.Errorf("%s:%d: not a Key=Value line in a section: %q", path, n, line)
			}
			k = strings.TrimSpace(k)
			u[section][k] = append(u[section][k], strings.TrimSpace(v))
		}
	}
	return u, sc.Err()
}

// Instruction is one Dockerfile instruction: its keyword in upper case and
// its arguments as written (continuations joined).
type Instruction struct {
	Cmd  string
	Args string
}

// Stage is one FROM of a Dockerfile and the instructions under it.
type Stage struct {
	From         string // the image
	Name         string // the AS name, or ""
	Instructions []Instruction
}

// ParseDockerfile reads the Dockerfile at path into its stages. Parser
// directives and comments are skipped; instructions before the first FROM
// (ARG) are left out.
func ParseDockerfile(path string) ([]Stage, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var stages []Stage
	var cur strings.Builder
	flush := func() error {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return nil
		}
		cmd, args, _ := strings.Cut(line, " ")
		cmd = strings.ToUpper(cmd)
		args = strings.TrimSpace(args)
		if cmd == "FROM" {
			f := strings.Fields(args)
			st := Stage{From: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.Name = f[2]
			}
			stages = append(stages, st)
			return nil
		}
		if len(stages) == 0 {
			if cmd == "ARG" {
				return nil
			}
			return fmt.Errorf("%s: %s before the first FROM", path, cmd)
		}
		s := &stages[len(stages)-1]
		s.Instructions = append(s.Instructions, Instruction{Cmd: cmd, Args: args})
		return nil
	}
	for _, raw := range strings.Split(string(data), "\n") {
		line := strings.TrimSpace(raw)
		if strings.HasPrefix(line, "#") {
			continue // comments, parser directives
		}
		if strings.HasSuffix(line, `\`) {
			cur.WriteString(strings.TrimSuffix(line, `\`) + " ")
			continue
		}
		cur.WriteString(line)
		if err := flush(); err != nil {
			return nil, err
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return stages, nil
}

// Last returns the arguments of the last instruction cmd of the stage, and
// whether there is one.
func (s Stage) Last(cmd string) (string, bool) {
	for i := len(s.Instructions) - 1; i >= 0; i-- {
		if s.Instructions[i].Cmd == cmd {
			return s.Instructions[i].Args, true
		}
	}
	return "", false
}
