// Package csvimport reads the files agencies send — CSV separated by ';' or
// ',' (detected), in UTF-8 with or without BOM or Windows-1252/Latin-1
// (detected), and XLSX workbooks (the first sheet) — as rows of
// connectors.Entry, each keyed by a configured column or a hash of chosen
// columns. It checks the file as a whole (header, key columns) when opened,
// and each row as it streams (cells beyond the header, an empty key, a key
// seen on an earlier line), without holding the file in memory.
package csvimport

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"golang.org/x/text/unicode/norm"

	"github.com/canonid/canonid/connectors"
)

// Config is a file connector's reading configuration.
type Config struct {
	// Format is csv or xlsx; empty detects it (a zip file is xlsx).
	Format string `yaml:"format"`
	// Delimiter is ";", ",", "\t" (or "tab"); empty detects it from the
	// header line.
	Delimiter string `yaml:"delimiter"`
	// Encoding is utf-8, windows-1252 or iso-8859-1 (latin-1); empty
	// detects it: UTF-8 when the start of the file is valid UTF-8, else
	// Windows-1252.
	Encoding string `yaml:"encoding"`
	// KeyColumns make the row key: one column gives its value, several
	// a hash of their values (trimmed, NFC, lower-cased). Required.
	KeyColumns []string `yaml:"key_columns"`
	// Sheet is the XLSX sheet to read; empty reads the first.
	Sheet string `yaml:"sheet"`
}

// Validate reports every problem of c at once, each prefixed with its key.
func (c Config) Validate() error {
	var errs []error
	switch c.Format {
	case "", "csv", "xlsx":
	default:
		errs = append(errs, fmt.Errorf("format: %q is not csv or xlsx", c.Format))
	}
	if _, err := delimiter(c.Delimiter); err != nil {
		errs = append(errs, fmt.Errorf("delimiter: %w", err))
	}
	if _, err := encodingOf(c.Encoding); err != nil {
		errs = append(errs, fmt.Errorf("encoding: %w", err))
	}
	if len(c.KeyColumns) == 0 {
		errs = append(errs, errors.New("key_columns: must name the column(s) that identify a row, e.g. [Mail] or [Nom, Prénom, Date de naissance]"))
	}
	for i, k := range c.KeyColumns {
		if strings.TrimSpace(k) == "" {
			errs = append(errs, fmt.Errorf("key_columns[%d]: empty column name", i))
		}
	}
	return errors.Join(errs...)
}

// delimiter parses a configured delimiter; 0 means detect.
func delimiter(s string) (rune, error) {
	switch s {
	case "":
		return 0, nil
	case ";", ",":
		return rune(s[0]), nil
	case "\t", "tab", `\t`:
		return '\t', nil
	}
	return 0, fmt.Errorf("%q is not ; , or tab", s)
}

// RowError says why a row cannot be imported.
type RowError struct {
	Line   int
	Column string
	Value  string
	Reason string
}

func (e *RowError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "line %d", e.Line)
	if e.Column != "" {
		fmt.Fprintf(&b, ": column %s", e.Column)
	}
	if e.Value != "" {
		fmt.Fprintf(&b, " %q", e.Value)
	}
	fmt.Fprintf(&b, ": %s", e.Reason)
	return b.String()
}

// Row is one data row: an entry to import, or Err.
type Row struct {
	// Line is the row's line in the file (1-based, the header being the
	// first); for XLSX, its row number in the sheet.
	Line int
	// Entry holds the row: ExternalID is the key, Attributes maps each
	// column with a value to it.
	Entry connectors.Entry
	// Err, when set, says why the row cannot be imported.
	Err *RowError
}

// File is an opened file: its header has been read and checked.
type File struct {
	cfg      Config
	format   string
	encoding string
	delim    rune
	header   []string
	keyIdx   []int
	open     func() (rowReader, error)
}

// rowReader yields the data rows of a file with their line numbers.
type rowReader interface {
	next() (line int, cells []string, err error) // io.EOF at the end
}

// Header returns the column names, as in the file (trimmed).
func (f *File) Header() []string { return slices.Clone(f.header) }

// Format returns csv or xlsx.
func (f *File) Format() string { return f.format }

// Encoding returns the encoding read (utf-8 for XLSX).
func (f *File) Encoding() string { return f.encoding }

// Delimiter returns the CSV delimiter, empty for XLSX.
func (f *File) Delimiter() string {
	if f.delim == 0 {
		return ""
	}
	return string(f.delim)
}

// column finds a column by name: trimmed, case-insensitive.
func column(header []string, name string) int {
	name = strings.TrimSpace(name)
	for i, h := range header {
		if strings.EqualFold(h, name) {
			return i
		}
	}
	return -1
}

// Missing returns the names among columns that the header lacks.
func (f *File) Missing(columns []string) []string {
	var out []string
	for _, c := range columns {
		if column(f.header, c) < 0 {
			out = append(out, c)
		}
	}
	return out
}

// Open reads and checks the header of a file of size bytes. It does not
// require the key columns: check them with Missing(cfg.KeyColumns) to report
// every missing column at once; Rows refuses to start without them.
func Open(r io.ReaderAt, size int64, cfg Config) (*File, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	format := cfg.Format
	if format == "" {
		var magic [4]byte
		n, _ := r.ReadAt(magic[:], 0)
		format = "csv"
		if n == 4 && string(magic[:]) == "PK\x03\x04" {
			format = "xlsx"
		}
	}
	f := &File{cfg: cfg, format: format}
	var err error
	switch format {
	case "xlsx":
		err = f.openXLSX(r, size)
	default:
		err = f.openCSV(r, size)
	}
	if err != nil {
		return nil, err
	}
	rows, err := f.open()
	if err != nil {
		return nil, err
	}
	_, header, err := rows.next()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("the file is empty: no header line")
	}
	if err != nil {
		return nil, err
	}
	seen := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\uFEFF"))
		header[i] = h
		if h == "" {
			return nil, fmt.Errorf("header: column %d has no name", i+1)
		}
		if j, dup := seen[strings.ToLower(h)]; dup {
			return nil, fmt.Errorf("header: column %q appears twice (columns %d and %d)", h, j+1, i+1)
		}
		seen[strings.ToLower(h)] = i
	}
	f.header = header
	for _, k := range cfg.KeyColumns {
		f.keyIdx = append(f.keyIdx, column(header, k))
	}
	return f, nil
}

// Rows streams the data rows to fn, from one goroutine; an error from fn
// stops and is returned. Blank rows are skipped. Only the keys seen are kept
// in memory, to report a key that comes again.
func (f *File) Rows(ctx context.Context, fn func(Row) error) error {
	if missing := f.Missing(f.cfg.KeyColumns); len(missing) > 0 {
		return fmt.Errorf("missing key column %s (key_columns); the file has %s", strings.Join(missing, ", "), strings.Join(f.header, ", "))
	}
	rows, err := f.open()
	if err != nil {
		return err
	}
	if _, _, err := rows.next(); err != nil { // the header
		return err
	}
	seen := map[string]int{}
	for n := 0; ; n++ {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		line, cells, err := rows.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(f.row(line, cells, seen)); err != nil {
			return err
		}
	}
}

// row turns the cells of a line into a Row.
func (f *File) row(line int, cells []string, seen map[string]int) Row {
	row := Row{Line: line}
	fail := func(col, value, reason string) Row {
		row.Err = &RowError{Line: line, Column: col, Value: value, Reason: reason}
		return row
	}
	if len(cells) > len(f.header) {
		for i := len(f.header); i < len(cells); i++ {
			if v := strings.TrimSpace(cells[i]); v != "" {
				return fail("", v, fmt.Sprintf("%d cells for %d columns", len(cells), len(f.header)))
			}
		}
	}
	attrs := make(map[string][]string, len(f.header))
	for i, v := range cells {
		if i >= len(f.header) {
			break
		}
		if v = strings.TrimSpace(v); v != "" {
			attrs[f.header[i]] = []string{v}
		}
	}
	var parts []string
	for _, i := range f.keyIdx {
		v := ""
		if i < len(cells) {
			v = strings.TrimSpace(cells[i])
		}
		if v == "" {
			return fail(f.header[i], "", "the key column is empty")
		}
		parts = append(parts, v)
	}
	key := parts[0]
	if len(parts) > 1 {
		h := sha256.New()
		for _, p := range parts {
			p = strings.ToLower(norm.NFC.String(p))
			fmt.Fprintf(h, "%d:%s;", len(p), p)
		}
		key = hex.EncodeToString(h.Sum(nil))[:32]
	}
	if first, dup := seen[key]; dup {
		return fail(strings.Join(f.cfg.KeyColumns, ", "), strings.Join(parts, " "), fmt.Sprintf("same key as line %d", first))
	}
	seen[key] = line
	row.Entry = connectors.Entry{ExternalID: key, Line: line, Attributes: attrs}
	return row
}
