// Package csvimport reads the files regional agencies send — CSV in UTF-8
// (with or without byte order mark), Windows-1252 or ISO-8859-1, separated
// by ';', ',' or tabs, and XLSX workbooks — as rows of connectors.Entry,
// each keyed by a configured column or by a hash of several.
//
// Open checks the file as a whole: that it is CSV or XLSX, that its header
// names every column once; Rows refuses a header without the key columns
// (Missing names them first). Rows then streams the
// data rows and checks each: a row with more cells than the header, an
// empty key or a key already seen on an earlier line comes with a RowError
// and is not to be imported. The file is never held in memory: only the
// keys seen are (and, for XLSX, the workbook's shared strings).
//
// Encoding, delimiter and format are detected unless configured:
//
//   - a file starting with the zip signature is XLSX, any other CSV;
//   - a CSV file is UTF-8 when its first 64 KiB are valid UTF-8 (a leading
//     byte order mark is dropped), Windows-1252 otherwise. A file detected
//     (or configured) as UTF-8 that holds invalid bytes further on is read
//     all the same, each invalid byte becoming U+FFFD; configure the
//     encoding of such a file;
//   - the delimiter is the most frequent of ';', ',' and tab outside
//     quotes in the header line, ';' on a tie.
package csvimport

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/canonid/canonid/connectors"
)

// Limits that keep a hostile or broken file from exhausting memory.
const (
	// maxColumns is the most columns a file may have: Excel's limit
	// (column XFD).
	maxColumns = 16384
	// maxRecord bounds a CSV record, in bytes (a quote left open makes
	// the rest of the file one record).
	maxRecord = 1 << 20
)

// Config is a file connector's reading configuration. With only
// KeyColumns set, everything else is detected.
type Config struct {
	// Format is "csv" or "xlsx"; empty detects it: a file starting with
	// the zip signature is XLSX, any other CSV.
	Format string `yaml:"format"`
	// Delimiter separates CSV cells: ";", "," or a tab (written "\t" or
	// "tab"); empty detects it from the header line.
	Delimiter string `yaml:"delimiter"`
	// Encoding is the CSV encoding: "utf-8", "windows-1252" or
	// "iso-8859-1" (also "latin-1" or "latin1"); empty detects it. A
	// UTF-8 byte order mark wins over the configuration.
	Encoding string `yaml:"encoding"`
	// KeyColumns name the columns that identify a row (required). With
	// one column the key is its value; with several, a hash of their
	// values (trimmed, NFC-normalised, lower-cased).
	KeyColumns []string `yaml:"key_columns"`
	// Sheet is the name of the XLSX sheet to read; empty reads the first.
	Sheet string `yaml:"sheet"`
}

// Validate reports every problem of c at once, each prefixed with its key.
func (c Config) Validate() error {
	var errs []error
	switch c.Format {
	case "", "csv", "xlsx":
	default:
		errs = append(errs, fmt.Errorf("format: %q is not csv or xlsx (or empty to detect)", c.Format))
	}
	if _, err := parseDelimiter(c.Delimiter); err != nil {
		errs = append(errs, fmt.Errorf("delimiter: %w", err))
	} else if c.Delimiter != "" && c.Format == "xlsx" {
		errs = append(errs, errors.New("delimiter: set for an xlsx file (CSV only)"))
	}
	if _, err := parseEncoding(c.Encoding); err != nil {
		errs = append(errs, fmt.Errorf("encoding: %w", err))
	} else if c.Encoding != "" && c.Format == "xlsx" {
		errs = append(errs, errors.New("encoding: set for an xlsx file (CSV only)"))
	}
	if c.Sheet != "" && c.Format == "csv" {
		errs = append(errs, errors.New("sheet: set for a csv file (XLSX only)"))
	}
	if len(c.KeyColumns) == 0 {
		errs = append(errs, errors.New("key_columns: empty: name the column or columns that identify a row, such as [Mail] or [Nom, Prénom, Date de naissance]"))
	}
	seen := map[string]int{}
	for i, k := range c.KeyColumns {
		k = strings.TrimSpace(k)
		if k == "" {
			errs = append(errs, fmt.Errorf("key_columns[%d]: empty column name", i))
			continue
		}
		if j, dup := seen[foldKey(k)]; dup {
			errs = append(errs, fmt.Errorf("key_columns[%d]: %q already is key_columns[%d]", i, k, j))
			continue
		}
		seen[foldKey(k)] = i
	}
	return errors.Join(errs...)
}

// parseDelimiter reads a configured delimiter; 0 means detect.
func parseDelimiter(s string) (rune, error) {
	switch s {
	case "":
		return 0, nil
	case ";", ",":
		return rune(s[0]), nil
	case "\t", `\t`, "tab":
		return '\t', nil
	}
	return 0, fmt.Errorf("%q is not \";\", \",\" or \"\\t\" (or empty to detect)", s)
}

// parseEncoding normalises a configured encoding name; "" means detect.
func parseEncoding(s string) (string, error) {
	switch strings.ToLower(s) {
	case "":
		return "", nil
	case "utf-8", "utf8":
		return encUTF8, nil
	case "windows-1252", "cp1252":
		return encWindows1252, nil
	case "iso-8859-1", "latin-1", "latin1":
		return encLatin1, nil
	}
	return "", fmt.Errorf("%q is not utf-8, windows-1252 or iso-8859-1 (or empty to detect)", s)
}

// RowError says why a row cannot be imported.
type RowError struct {
	// Line is the row's line (see Row.Line).
	Line int
	// Column names the column at fault, when there is one: the key
	// column, or the key columns joined by ", ".
	Column string
	// Value is the value at fault, when there is one.
	Value string
	// Reason says what is wrong, such as "same key as line 4".
	Reason string
}

// Error returns `line 7: column X "value": reason`, leaving out the column
// and the value when they are empty.
func (e *RowError) Error() string {
	var b strings.Builder
	b.WriteString("line ")
	b.WriteString(strconv.Itoa(e.Line))
	if e.Column != "" || e.Value != "" {
		b.WriteString(":")
	}
	if e.Column != "" {
		b.WriteString(" column ")
		b.WriteString(e.Column)
	}
	if e.Value != "" {
		b.WriteString(" ")
		b.WriteString(strconv.Quote(e.Value))
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}

// Row is one data row of a file.
type Row struct {
	// Line is the row's line in the file, 1-based, the header being line
	// 1 when it is the first line; a quoted value may span lines: Line is
	// where the row starts. For XLSX, the row number in the sheet.
	Line int
	// Entry is the row: ExternalID is its key, Line is Line, Attributes
	// map each column with a value to it (cells are trimmed; empty cells
	// are left out); Name is empty. When Err is set, ExternalID is empty
	// and Attributes hold what could be read, for reports.
	Entry connectors.Entry
	// Err, when set, says why the row cannot be imported: the row is not
	// to be imported.
	Err *RowError
}

// File is an opened file whose header has been read and checked. It reads
// the file again at every call to Rows; calls may run concurrently.
type File struct {
	format   string
	encoding string
	delim    rune
	header   []string
	// keyErr says which key columns the header lacks; Rows returns it.
	keyErr error
	// keyIdx are the header positions of the key columns, keyCols
	// their names as in the header.
	keyIdx  []int
	keyCols []string
	// open starts reading the file, header included.
	open func() (rowSource, error)
}

// rowSource yields the non-empty rows of a file, header first, with their
// line numbers and their cells trimmed and valid UTF-8. The cells slice is
// reused by the next call.
type rowSource interface {
	next() (line int, cells []string, err error) // io.EOF after the last row
	close() error
}

// Open reads and checks the header of a file of size bytes, detecting its
// format, encoding and delimiter unless cfg sets them. Its errors concern
// the configuration or the file as a whole (not CSV or XLSX, no header, a
// column without name or twice in the header) and name the column at fault;
// they do not name the file, which the caller knows. A missing key column
// is not an error of Open: check Missing(cfg.KeyColumns) to report it with
// the other missing columns; Rows refuses to start without it.
func Open(r io.ReaderAt, size int64, cfg Config) (*File, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	f, err := openFile(r, size, cfg)
	if err != nil {
		return nil, err
	}
	// Missing key columns are reported by Rows, so that the caller can
	// first name every missing column at once (Missing).
	if f.Missing(cfg.KeyColumns) == nil {
		if err := f.setKeys(cfg.KeyColumns); err != nil {
			return nil, err
		}
	} else {
		f.keyErr = f.setKeys(cfg.KeyColumns)
	}
	return f, nil
}

// openFile reads and checks the header, leaving the key columns aside.
func openFile(r io.ReaderAt, size int64, cfg Config) (*File, error) {
	if size <= 0 {
		return nil, errors.New("the file is empty")
	}
	var magic [4]byte
	n, err := r.ReadAt(magic[:], 0)
	if n < len(magic) && err != nil && err != io.EOF {
		return nil, fmt.Errorf("read: %w", err)
	}
	isZip := n == len(magic) && string(magic[:]) == "PK\x03\x04"
	format := cfg.Format
	if format == "" {
		format = "csv"
		if isZip {
			format = "xlsx"
		}
	}
	f := &File{format: format}
	switch {
	case format == "xlsx":
		err = f.openXLSX(r, size, cfg.Sheet)
	case isZip:
		err = errors.New("not a CSV file but a zip archive (an xlsx workbook?): set format to xlsx or leave it empty")
	default:
		err = f.openCSV(r, size, cfg)
	}
	if err != nil {
		return nil, err
	}
	if err := f.readHeader(); err != nil {
		return nil, err
	}
	return f, nil
}

// readHeader reads and checks the first non-empty row.
func (f *File) readHeader() error {
	src, err := f.open()
	if err != nil {
		return err
	}
	defer src.close()
	_, cells, err := src.next()
	if err == io.EOF {
		return errors.New("the file is empty: no header line")
	}
	if err != nil {
		return err
	}
	// Trailing unnamed columns are dropped: spreadsheets export them
	// when a cell to their right was once formatted.
	for len(cells) > 0 && cells[len(cells)-1] == "" {
		cells = cells[:len(cells)-1]
	}
	if len(cells) > maxColumns {
		return fmt.Errorf("header: %d columns, more than the %d allowed", len(cells), maxColumns)
	}
	header := make([]string, len(cells))
	seen := make(map[string]int, len(cells))
	for i, c := range cells {
		h := strings.TrimSpace(strings.TrimPrefix(c, "\uFEFF"))
		if h == "" {
			return fmt.Errorf("header: column %s has no name", f.columnLabel(i))
		}
		key := foldKey(h)
		if j, dup := seen[key]; dup {
			return fmt.Errorf("header: column %q appears twice, as columns %s and %s", h, f.columnLabel(j), f.columnLabel(i))
		}
		seen[key] = i
		header[i] = h
	}
	f.header = header
	return nil
}

// columnLabel locates column i (0-based) for a reader: its number in a
// CSV file, its letters in a sheet.
func (f *File) columnLabel(i int) string {
	if f.format == "xlsx" {
		return columnLetters(i)
	}
	return strconv.Itoa(i + 1)
}

// setKeys finds the key columns in the header.
func (f *File) setKeys(keys []string) error {
	if missing := f.Missing(keys); len(missing) > 0 {
		s := ""
		if len(missing) > 1 {
			s = "s"
		}
		return fmt.Errorf("header: key column%s %s (key_columns) missing; the header has %s",
			s, strings.Join(missing, ", "), strings.Join(f.header, ", "))
	}
	for _, k := range keys {
		i := column(f.header, k)
		f.keyIdx = append(f.keyIdx, i)
		f.keyCols = append(f.keyCols, f.header[i])
	}
	return nil
}

// foldKey returns a key equal for names equal under strings.EqualFold:
// each rune is replaced by the least rune of its case folding orbit.
func foldKey(s string) string {
	return strings.Map(func(r rune) rune {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		return least
	}, s)
}

// column finds a column by name, trimmed and case-insensitively; -1 when
// the header lacks it.
func column(header []string, name string) int {
	name = strings.TrimSpace(name)
	for i, h := range header {
		if strings.EqualFold(h, name) {
			return i
		}
	}
	return -1
}

// Header returns the column names, as in the file (trimmed, without byte
// order mark).
func (f *File) Header() []string { return slices.Clone(f.header) }

// Format returns "csv" or "xlsx".
func (f *File) Format() string { return f.format }

// Encoding returns the encoding the file is read in, detected or
// configured: "utf-8", "windows-1252" or "iso-8859-1"; "utf-8" for XLSX.
func (f *File) Encoding() string { return f.encoding }

// Delimiter returns the CSV delimiter, detected or configured: ";", ","
// or "\t"; empty for XLSX.
func (f *File) Delimiter() string {
	if f.delim == 0 {
		return ""
	}
	return string(f.delim)
}

// Missing returns those of columns that the header lacks, compared trimmed
// and case-insensitively, in the order given: the check for required
// columns before anything is imported.
func (f *File) Missing(columns []string) []string {
	var out []string
	for _, c := range columns {
		if column(f.header, c) < 0 {
			out = append(out, c)
		}
	}
	return out
}

// Rows streams the data rows to fn, in order, from the calling goroutine:
// one Row per non-empty row (rows whose cells are all empty are skipped).
// An error from fn stops the reading and is returned as is; so is the
// context's error when ctx is done. Other errors concern the file as a
// whole (a CSV record longer than 1 MiB, a broken sheet) and come after
// the rows before the fault. Memory stays bounded but for the keys seen,
// kept to report a key that comes again.
func (f *File) Rows(ctx context.Context, fn func(Row) error) error {
	if f.keyErr != nil {
		return f.keyErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	src, err := f.open()
	if err != nil {
		return err
	}
	defer src.close()
	if _, _, err := src.next(); err != nil { // the header
		if err == io.EOF {
			return errors.New("the file is empty: no header line")
		}
		return err
	}
	b := rowBuilder{f: f, seen: map[string]int{}}
	for n := 1; ; n++ {
		if n%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		line, cells, err := src.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(b.row(line, cells)); err != nil {
			return err
		}
	}
}

// rowBuilder turns cells into Rows, remembering the keys seen.
type rowBuilder struct {
	f    *File
	seen map[string]int
	buf  []byte
}

// row builds the Row of a line.
func (b *rowBuilder) row(line int, cells []string) Row {
	f := b.f
	width := len(cells)
	for width > 0 && cells[width-1] == "" {
		width--
	}
	named := min(width, len(f.header))
	count := 0
	for _, v := range cells[:named] {
		if v != "" {
			count++
		}
	}
	vals := make([]string, count) // backs every value slice
	attrs := make(map[string][]string, count)
	j := 0
	for i, v := range cells[:named] {
		if v != "" {
			vals[j] = v
			attrs[f.header[i]] = vals[j : j+1 : j+1]
			j++
		}
	}
	row := Row{Line: line, Entry: connectors.Entry{Line: line, Attributes: attrs}}
	fail := func(column, value, reason string) Row {
		row.Err = &RowError{Line: line, Column: column, Value: value, Reason: reason}
		return row
	}
	if width > len(f.header) {
		extra := len(f.header)
		for cells[extra] == "" {
			extra++
		}
		if f.format == "xlsx" {
			return fail("", cells[extra], fmt.Sprintf("cell %s%d is beyond the header's last column, %s",
				columnLetters(extra), line, columnLetters(len(f.header)-1)))
		}
		return fail("", cells[extra], fmt.Sprintf("%d cells, but the header has %d columns", width, len(f.header)))
	}
	for k, i := range f.keyIdx {
		if i >= width || cells[i] == "" {
			return fail(f.keyCols[k], "", "key column "+f.keyCols[k]+" is empty")
		}
	}
	var key, shown string
	if len(f.keyIdx) == 1 {
		key = cells[f.keyIdx[0]]
		shown = key
	} else {
		key = b.hash(cells)
		parts := make([]string, len(f.keyIdx))
		for k, i := range f.keyIdx {
			parts[k] = cells[i]
		}
		shown = strings.Join(parts, ", ")
	}
	if first, dup := b.seen[key]; dup {
		return fail(strings.Join(f.keyCols, ", "), shown, fmt.Sprintf("same key as line %d", first))
	}
	if len(f.keyIdx) == 1 {
		key = strings.Clone(key) // not to keep the whole line alive
	}
	b.seen[key] = line
	row.Entry.ExternalID = key
	return row
}

// hash returns the key of several columns: the first 32 hex digits of the
// SHA-256 of their values, NFC-normalised and lower-cased, each preceded
// by its length in bytes so that no two lists of values join alike.
func (b *rowBuilder) hash(cells []string) string {
	buf := b.buf[:0]
	for _, i := range b.f.keyIdx {
		v := strings.ToLower(norm.NFC.String(cells[i]))
		buf = strconv.AppendInt(buf, int64(len(v)), 10)
		buf = append(buf, ':')
		buf = append(buf, v...)
	}
	b.buf = buf
	sum := sha256.Sum256(buf)
	return hex.EncodeToString(sum[:16])
}
