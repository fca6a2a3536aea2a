package mapping

import (
	"fmt"
	"regexp"
	"strings"
)

// op is a transform's operation.
type op uint8

const (
	opTrim op = iota + 1
	opLower
	opUpper
	opFirst
	opSplit
	opJoin
	opRegex
	opDate
	opBool
	opNot
)

// step is one compiled transform.
type step struct {
	op     op
	arg    string         // split and join separator
	re     *regexp.Regexp // regex
	layout dateLayout     // date
}

// parseTransform compiles one transform written as "name" or "name:arg".
func parseTransform(s string) (step, error) {
	name, arg, hasArg := strings.Cut(s, ":")
	noArg := func(o op) (step, error) {
		if hasArg {
			return step{}, fmt.Errorf("transform %q takes no argument", name)
		}
		return step{op: o}, nil
	}
	switch name {
	case "trim":
		return noArg(opTrim)
	case "lower":
		return noArg(opLower)
	case "upper":
		return noArg(opUpper)
	case "first":
		return noArg(opFirst)
	case "bool":
		return noArg(opBool)
	case "not":
		return noArg(opNot)
	case "split":
		if arg == "" {
			return step{}, fmt.Errorf("transform %q needs a separator (split:SEP)", s)
		}
		return step{op: opSplit, arg: arg}, nil
	case "join":
		if !hasArg {
			return step{}, fmt.Errorf("transform %q needs a separator (join:SEP)", s)
		}
		return step{op: opJoin, arg: arg}, nil
	case "regex":
		if arg == "" {
			return step{}, fmt.Errorf("transform %q needs an expression (regex:EXPR)", s)
		}
		re, err := regexp.Compile(arg)
		if err != nil {
			return step{}, fmt.Errorf("regex %q: %w", arg, err)
		}
		if n := re.NumSubexp(); n != 1 {
			return step{}, fmt.Errorf("regex %q has %d capture groups, want exactly 1", arg, n)
		}
		return step{op: opRegex, re: re}, nil
	case "date":
		l, ok := parseLayout(arg)
		if !ok {
			return step{}, fmt.Errorf("transform %q: unknown date layout %q (want YYYYMMDD, YYYY-MM-DD, DD/MM/YYYY or any)", s, arg)
		}
		return step{op: opDate, layout: l}, nil
	}
	return step{}, fmt.Errorf("unknown transform %q", s)
}

// apply runs the step on src, appending the results to dst, which never
// shares memory with src. Every value in src is trimmed and non-empty, and
// so is every value apply appends. On failure it returns the offending value
// and the reason.
func (st *step) apply(src, dst []string) (out []string, bad, reason string) {
	switch st.op {
	case opTrim:
		for _, v := range src {
			if v = strings.TrimSpace(v); v != "" {
				dst = append(dst, v)
			}
		}
	case opLower:
		for _, v := range src {
			dst = append(dst, strings.ToLower(v))
		}
	case opUpper:
		for _, v := range src {
			dst = append(dst, strings.ToUpper(v))
		}
	case opFirst:
		if len(src) > 0 {
			dst = append(dst, src[0])
		}
	case opSplit:
		for _, v := range src {
			for {
				part, rest, found := strings.Cut(v, st.arg)
				if part = strings.TrimSpace(part); part != "" {
					dst = append(dst, part)
				}
				if !found {
					break
				}
				v = rest
			}
		}
	case opJoin:
		switch len(src) {
		case 0:
		case 1:
			dst = append(dst, src[0])
		default:
			dst = append(dst, strings.Join(src, st.arg))
		}
	case opRegex:
		for _, v := range src {
			m := st.re.FindStringSubmatchIndex(v)
			if m == nil || m[2] < 0 {
				continue
			}
			if c := strings.TrimSpace(v[m[2]:m[3]]); c != "" {
				dst = append(dst, c)
			}
		}
	case opDate:
		for _, v := range src {
			d, ok := parseDate(v, st.layout)
			if !ok {
				return dst, v, st.layout.reason()
			}
			dst = append(dst, d)
		}
	case opBool, opNot:
		for _, v := range src {
			b, ok := parseBool(v)
			if !ok {
				return dst, v, reasonBool
			}
			dst = append(dst, formatBool(b != (st.op == opNot)))
		}
	}
	return dst, "", ""
}

// reasonBool is the reason given for a value that is not a boolean.
const reasonBool = "not a boolean (want TRUE or FALSE)"

// parseBool reads a boolean the way directories and spreadsheets write it:
// TRUE/FALSE (LDAP), yes/no, oui/non, 1/0, in any case.
func parseBool(v string) (value, ok bool) {
	switch {
	case strings.EqualFold(v, "true"), strings.EqualFold(v, "yes"), strings.EqualFold(v, "oui"), v == "1":
		return true, true
	case strings.EqualFold(v, "false"), strings.EqualFold(v, "no"), strings.EqualFold(v, "non"), v == "0":
		return false, true
	}
	return false, false
}

// formatBool is the canonical form of a boolean field value.
func formatBool(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// dateLayout is how a date transform reads its values.
type dateLayout uint8

const (
	layoutCompact dateLayout = iota + 1 // YYYYMMDD
	layoutISO                           // YYYY-MM-DD
	layoutFrench                        // DD/MM/YYYY
	layoutAny                           // any of the above
)

// parseLayout reads the argument of a date transform.
func parseLayout(s string) (dateLayout, bool) {
	switch s {
	case "YYYYMMDD":
		return layoutCompact, true
	case "YYYY-MM-DD":
		return layoutISO, true
	case "DD/MM/YYYY":
		return layoutFrench, true
	case "any":
		return layoutAny, true
	}
	return 0, false
}

// reason is the reason given for a value that is not a date in layout l.
func (l dateLayout) reason() string {
	switch l {
	case layoutCompact:
		return "not a date (want YYYYMMDD)"
	case layoutISO:
		return "not a date (want YYYY-MM-DD)"
	case layoutFrench:
		return "not a date (want DD/MM/YYYY)"
	}
	return "not a date (want YYYYMMDD, YYYY-MM-DD or DD/MM/YYYY)"
}

// parseDate reads v in layout l and returns the date as YYYY-MM-DD, and
// false when v is not a valid calendar date in that layout. DD/MM/YYYY also
// accepts a one-digit day or month (1/3/1997).
func parseDate(v string, l dateLayout) (string, bool) {
	if l == layoutAny {
		switch {
		case strings.IndexByte(v, '-') >= 0:
			l = layoutISO
		case strings.IndexByte(v, '/') >= 0:
			l = layoutFrench
		default:
			l = layoutCompact
		}
	}
	var y, m, d int
	var ok bool
	switch l {
	case layoutCompact:
		if len(v) != 8 {
			return "", false
		}
		y, ok = digits(v[0:4])
		m, ok = digitsAnd(ok, v[4:6])
		d, ok = digitsAnd(ok, v[6:8])
	case layoutISO:
		if len(v) != 10 || v[4] != '-' || v[7] != '-' {
			return "", false
		}
		y, ok = digits(v[0:4])
		m, ok = digitsAnd(ok, v[5:7])
		d, ok = digitsAnd(ok, v[8:10])
	case layoutFrench:
		ds, rest, found1 := strings.Cut(v, "/")
		ms, ys, found2 := strings.Cut(rest, "/")
		if !found1 || !found2 || len(ds) < 1 || len(ds) > 2 || len(ms) < 1 || len(ms) > 2 || len(ys) != 4 {
			return "", false
		}
		d, ok = digits(ds)
		m, ok = digitsAnd(ok, ms)
		y, ok = digitsAnd(ok, ys)
	}
	if !ok || !validDate(y, m, d) {
		return "", false
	}
	if l == layoutISO {
		return v, true
	}
	b := [10]byte{
		byte('0' + y/1000), byte('0' + y/100%10), byte('0' + y/10%10), byte('0' + y%10), '-',
		byte('0' + m/10), byte('0' + m%10), '-',
		byte('0' + d/10), byte('0' + d%10),
	}
	return string(b[:]), true
}

// digits reads a non-empty string of ASCII digits.
func digits(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// digitsAnd is digits, failing when ok already is false.
func digitsAnd(ok bool, s string) (int, bool) {
	if !ok {
		return 0, false
	}
	return digits(s)
}

// validDate reports whether y-m-d is a date of the proleptic Gregorian
// calendar between years 1 and 9999.
func validDate(y, m, d int) bool {
	if y < 1 || y > 9999 || m < 1 || m > 12 || d < 1 {
		return false
	}
	days := 31
	switch m {
	case 4, 6, 9, 11:
		days = 30
	case 2:
		days = 28
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			days = 29
		}
	}
	return d <= days
}
