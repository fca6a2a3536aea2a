package csvimport

import (
	"archive/zip"
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"strconv"
	"strings"
	"time"
)

// Limits on the parts of an XLSX workbook (uncompressed sizes).
const (
	// maxBigPart bounds the sheet and the shared strings.
	maxBigPart = 512 << 20
	// maxSmallPart bounds the workbook, its relationships and styles.
	maxSmallPart = 64 << 20
	// maxSharedStrings bounds the count of shared strings.
	maxSharedStrings = 1 << 24
	// maxCellXfs bounds the count of cell formats (Excel allows 64000).
	maxCellXfs = 1 << 16
	// maxSheets bounds the count of sheets.
	maxSheets = 1 << 16
	// maxRows is Excel's row limit.
	maxRows = 1 << 20
	// maxDepth bounds the nesting of XML elements; worksheets nest
	// about 7 deep.
	maxDepth = 128
	// maxCell bounds a cell's text, in bytes (Excel allows 32767
	// characters).
	maxCell = 1 << 20
)

// workbook is what an XLSX file's sheet needs of the rest of the file.
type workbook struct {
	// parts are the zip entries by normalised name (partName).
	parts    map[string]*zip.File
	sst      sharedStrings
	dates    []bool // by cell format (xf) index: the format shows a date
	date1904 bool
	// sheet and sheetPart are the name and part of the sheet read.
	sheet, sheetPart string
}

// relationship is one entry of an OPC relationships part.
type relationship struct {
	id, typ, target string // target: a normalised part name
}

// sheetRef is a sheet as the workbook lists it.
type sheetRef struct{ name, rid string }

// openXLSX reads the workbook, its shared strings and styles, and finds the
// sheet to read.
func (f *File) openXLSX(r io.ReaderAt, size int64, sheet string) error {
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) { // entries are only looked up by name
		return fmt.Errorf("not an xlsx workbook: %w", err)
	}
	wb := &workbook{parts: make(map[string]*zip.File, len(zr.File))}
	for _, zf := range zr.File {
		wb.parts[partName(zf.Name)] = zf
	}
	if err := wb.load(sheet); err != nil {
		return err
	}
	f.encoding = encUTF8
	f.open = wb.openSheet
	return nil
}

// partName normalises a part name for lookups: OPC part names are
// case-insensitive; some tools write backslashes.
func partName(name string) string {
	return strings.ToLower(strings.TrimPrefix(strings.ReplaceAll(name, `\`, "/"), "/"))
}

// load reads the workbook part, the shared strings and the styles.
func (wb *workbook) load(sheet string) error {
	book := "xl/workbook.xml"
	rels, err := wb.readRels("")
	if err != nil {
		return err
	}
	if t := findRel(rels, "/officeDocument"); t != "" {
		book = t
	}
	if wb.parts[book] == nil {
		return errors.New("not an xlsx workbook: no xl/workbook.xml in the zip archive")
	}
	sheets, err := wb.readWorkbook(book)
	if err != nil {
		return err
	}
	ref, err := pickSheet(sheets, sheet)
	if err != nil {
		return err
	}
	rels, err = wb.readRels(book)
	if err != nil {
		return err
	}
	wb.sheet = ref.name
	for _, rel := range rels {
		if rel.id == ref.rid {
			if strings.HasSuffix(rel.typ, "/chartsheet") {
				return fmt.Errorf("sheet %q is a chart, not a worksheet", ref.name)
			}
			wb.sheetPart = rel.target
		}
	}
	if wb.sheetPart == "" {
		return fmt.Errorf("sheet %q: %s has no relationship %q", ref.name, relsPart(book), ref.rid)
	}
	if wb.parts[wb.sheetPart] == nil {
		return fmt.Errorf("sheet %q: its part %s is not in the zip archive", ref.name, wb.sheetPart)
	}
	sst := findRel(rels, "/sharedStrings")
	if sst == "" {
		sst = "xl/sharedstrings.xml"
	}
	if wb.parts[sst] != nil {
		if err := wb.readSharedStrings(sst); err != nil {
			return err
		}
	}
	styles := findRel(rels, "/styles")
	if styles == "" {
		styles = "xl/styles.xml"
	}
	if wb.parts[styles] != nil {
		if err := wb.readStyles(styles); err != nil {
			return err
		}
	}
	return nil
}

// pickSheet finds the sheet named name (exactly, else trimmed and
// case-insensitively), or the first sheet when name is empty.
func pickSheet(sheets []sheetRef, name string) (sheetRef, error) {
	if len(sheets) == 0 {
		return sheetRef{}, errors.New("the workbook has no sheet")
	}
	if name == "" {
		return sheets[0], nil
	}
	for _, s := range sheets {
		if s.name == name {
			return s, nil
		}
	}
	names := make([]string, len(sheets))
	for i, s := range sheets {
		if strings.EqualFold(strings.TrimSpace(s.name), strings.TrimSpace(name)) {
			return s, nil
		}
		names[i] = strconv.Quote(s.name)
	}
	return sheetRef{}, fmt.Errorf("sheet: no sheet named %q; the workbook has %s", name, strings.Join(names, ", "))
}

// openPart opens a part of at most limit bytes.
func (wb *workbook) openPart(name string, limit uint64) (*xmlWalker, io.Closer, error) {
	zf := wb.parts[name]
	if zf == nil {
		return nil, nil, fmt.Errorf("%s is not in the zip archive", name)
	}
	if zf.UncompressedSize64 > limit {
		return nil, nil, fmt.Errorf("%s: %d MiB uncompressed, more than the %d MiB allowed", name, zf.UncompressedSize64>>20, limit>>20)
	}
	rc, err := zf.Open()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	// archive/zip fails a read past the declared size; the limit is a
	// second guard.
	in := bufio.NewReaderSize(io.LimitReader(rc, int64(limit)), 64<<10)
	return newWalker(in, name), rc, nil
}

// relsPart returns the relationships part of a part; "" is the package.
func relsPart(part string) string {
	if part == "" {
		return "_rels/.rels"
	}
	return path.Join(path.Dir(part), "_rels", path.Base(part)+".rels")
}

// readRels reads the relationships of part ("" for the package's). A
// missing relationships part has none.
func (wb *workbook) readRels(part string) ([]relationship, error) {
	name := relsPart(part)
	if wb.parts[name] == nil {
		return nil, nil
	}
	w, c, err := wb.openPart(name, maxSmallPart)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var rels []relationship
	for {
		tok, err := w.next()
		if err == io.EOF {
			return rels, nil
		}
		if err != nil {
			return nil, err
		}
		e, ok := tok.(xml.StartElement)
		if !ok || !w.in("Relationships", "Relationship") {
			continue
		}
		if len(rels) >= maxSheets*2 {
			return nil, fmt.Errorf("%s: more than %d relationships", name, maxSheets*2)
		}
		var rel relationship
		external := false
		for _, a := range e.Attr {
			switch a.Name.Local {
			case "Id":
				rel.id = a.Value
			case "Type":
				rel.typ = a.Value
			case "Target":
				rel.target = a.Value
			case "TargetMode":
				external = a.Value == "External"
			}
		}
		if external {
			continue
		}
		if strings.HasPrefix(rel.target, "/") {
			rel.target = partName(rel.target)
		} else {
			rel.target = partName(path.Join(path.Dir(part), rel.target))
		}
		rels = append(rels, rel)
	}
}

// findRel returns the target of the first relationship whose type ends
// with suffix.
func findRel(rels []relationship, suffix string) string {
	for _, r := range rels {
		if strings.HasSuffix(r.typ, suffix) {
			return r.target
		}
	}
	return ""
}

// readWorkbook reads the date system and the sheets of the workbook part.
func (wb *workbook) readWorkbook(name string) ([]sheetRef, error) {
	w, c, err := wb.openPart(name, maxSmallPart)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var sheets []sheetRef
	for {
		tok, err := w.next()
		if err == io.EOF {
			return sheets, nil
		}
		if err != nil {
			return nil, err
		}
		e, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch {
		case w.in("workbook", "workbookPr"):
			if v, ok := attr(e, "date1904"); ok {
				wb.date1904 = v == "1" || v == "true"
			}
		case w.in("sheets", "sheet"):
			if len(sheets) >= maxSheets {
				return nil, fmt.Errorf("%s: more than %d sheets", name, maxSheets)
			}
			var s sheetRef
			for _, a := range e.Attr {
				switch {
				case a.Name.Local == "name" && a.Name.Space == "":
					s.name = a.Value
				case a.Name.Local == "id" && a.Name.Space != "": // r:id
					s.rid = a.Value
				}
			}
			sheets = append(sheets, s)
		}
	}
}

// sharedStrings are a workbook's shared strings, concatenated.
type sharedStrings struct {
	text string
	ends []uint32 // ends[i] is where string i ends in text
}

// get returns shared string i.
func (s *sharedStrings) get(i int) (string, bool) {
	if i < 0 || i >= len(s.ends) {
		return "", false
	}
	start := uint32(0)
	if i > 0 {
		start = s.ends[i-1]
	}
	return s.text[start:s.ends[i]], true
}

// readSharedStrings reads the shared strings part: each <si> is the text
// of its <t>, or of the <t> of its rich text runs <r> (phonetic runs left
// out).
func (wb *workbook) readSharedStrings(name string) error {
	w, c, err := wb.openPart(name, maxBigPart)
	if err != nil {
		return err
	}
	defer c.Close()
	var text strings.Builder
	var ends []uint32
	start := 0
	for {
		tok, err := w.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if w.in("sst", "si") {
				start = text.Len()
			}
		case xml.CharData:
			if w.in("sst", "si", "t") || w.in("sst", "si", "r", "t") {
				if text.Len()-start+len(t) > maxCell {
					return fmt.Errorf("%s: string %d longer than %d bytes", name, len(ends), maxCell)
				}
				text.Write(t)
			}
		case xml.EndElement:
			if t.Name.Local == "si" && w.in("sst") {
				if len(ends) >= maxSharedStrings {
					return fmt.Errorf("%s: more than %d shared strings", name, maxSharedStrings)
				}
				ends = append(ends, uint32(text.Len()))
			}
		}
	}
	wb.sst = sharedStrings{text: text.String(), ends: ends}
	return nil
}

// readStyles reads which cell formats show dates.
func (wb *workbook) readStyles(name string) error {
	w, c, err := wb.openPart(name, maxSmallPart)
	if err != nil {
		return err
	}
	defer c.Close()
	custom := map[int]bool{} // custom number format id -> shows a date
	var xfs []int            // the number format id of each cell format
	for {
		tok, err := w.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		e, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch {
		case w.in("numFmts", "numFmt"):
			id, _ := attr(e, "numFmtId")
			code, _ := attr(e, "formatCode")
			if n, err := strconv.Atoi(id); err == nil && len(custom) < maxCellXfs {
				custom[n] = isDateFormat(code)
			}
		case w.in("cellXfs", "xf"):
			if len(xfs) >= maxCellXfs {
				return fmt.Errorf("%s: more than %d cell formats", name, maxCellXfs)
			}
			id, _ := attr(e, "numFmtId")
			n, _ := strconv.Atoi(id)
			xfs = append(xfs, n)
		}
	}
	wb.dates = make([]bool, len(xfs))
	for i, id := range xfs {
		if d, ok := custom[id]; ok {
			wb.dates[i] = d
		} else {
			wb.dates[i] = builtinDate(id)
		}
	}
	return nil
}

// builtinDate reports whether a built-in number format shows a date:
// 14-17 and 22 (m/d/yyyy, d-mmm-yy, d-mmm, mmm-yy, m/d/yyyy h:mm), and
// the East Asian date formats 27-36 and 50-58.
func builtinDate(id int) bool {
	return id >= 14 && id <= 17 || id == 22 || id >= 27 && id <= 36 || id >= 50 && id <= 58
}

// isDateFormat reports whether a custom number format code shows a date:
// its first section holds d, m or y outside quotes, brackets and escapes
// (m with h or s is minutes: a time of day is no date).
func isDateFormat(code string) bool {
	var d, m, y, hs bool
scan:
	for i := 0; i < len(code); i++ {
		switch code[i] {
		case '"':
			j := strings.IndexByte(code[i+1:], '"')
			if j < 0 {
				break scan
			}
			i += j + 1
		case '[':
			j := strings.IndexByte(code[i+1:], ']')
			if j < 0 {
				break scan
			}
			i += j + 1
		case '\\', '_', '*': // an escaped character, a space as wide, a fill
			i++
		case ';':
			break scan
		case 'd', 'D':
			d = true
		case 'm', 'M':
			m = true
		case 'y', 'Y':
			y = true
		case 'h', 'H', 's', 'S':
			hs = true
		}
	}
	return d || y || m && !hs
}

// isDate reports whether cell format xf shows a date.
func (wb *workbook) isDate(xf int) bool {
	return xf >= 0 && xf < len(wb.dates) && wb.dates[xf]
}

// openSheet starts reading the sheet.
func (wb *workbook) openSheet() (rowSource, error) {
	w, c, err := wb.openPart(wb.sheetPart, maxBigPart)
	if err != nil {
		return nil, fmt.Errorf("sheet %q: %w", wb.sheet, err)
	}
	return &sheetSource{wb: wb, w: w, c: c}, nil
}

// sheetSource streams the rows of a sheet.
type sheetSource struct {
	wb    *workbook
	w     *xmlWalker
	c     io.Closer
	cells []string
	// row is the current row's number, nextCol the column of a cell
	// without reference.
	row, nextCol int
	// The current cell: column, type, format, <v> and <is> text.
	inCell      bool
	col         int
	typ         string
	style       int
	val, inline []byte
}

func (s *sheetSource) close() error { return s.c.Close() }

func (s *sheetSource) next() (int, []string, error) {
	for {
		tok, err := s.w.next()
		if err == io.EOF {
			return 0, nil, io.EOF
		}
		if err != nil {
			return 0, nil, fmt.Errorf("sheet %q: %w", s.wb.sheet, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch {
			case s.w.in("sheetData", "row"):
				if err := s.startRow(t); err != nil {
					return 0, nil, err
				}
			case s.w.in("sheetData", "row", "c"):
				if err := s.startCell(t); err != nil {
					return 0, nil, err
				}
			}
		case xml.CharData:
			if !s.inCell {
				continue
			}
			var buf *[]byte
			switch {
			case s.w.in("c", "v"):
				buf = &s.val
			case s.w.in("c", "is", "t"), s.w.in("c", "is", "r", "t"):
				buf = &s.inline
			default:
				continue
			}
			if len(*buf)+len(t) > maxCell {
				return 0, nil, s.cellError("more than %d bytes", maxCell)
			}
			*buf = append(*buf, t...)
		case xml.EndElement:
			switch {
			case t.Name.Local == "c" && s.inCell && s.w.in("sheetData", "row"):
				if err := s.endCell(); err != nil {
					return 0, nil, err
				}
			case t.Name.Local == "row" && s.w.in("sheetData"):
				if len(s.cells) > 0 {
					return s.row, s.cells, nil
				}
			case t.Name.Local == "sheetData":
				return 0, nil, io.EOF
			}
		}
	}
}

// startRow starts a row: numbered by its r attribute, else the next.
func (s *sheetSource) startRow(e xml.StartElement) error {
	n := s.row + 1
	if v, ok := attr(e, "r"); ok {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > maxRows {
			return fmt.Errorf("sheet %q: row number %q is not between 1 and %d", s.wb.sheet, v, maxRows)
		}
	}
	if n <= s.row {
		return fmt.Errorf("sheet %q: row %d comes after row %d", s.wb.sheet, n, s.row)
	}
	s.row, s.nextCol = n, 0
	s.cells = s.cells[:0]
	return nil
}

// startCell starts a cell: placed by the column of its r attribute, else
// after the previous one.
func (s *sheetSource) startCell(e xml.StartElement) error {
	s.inCell, s.col, s.typ, s.style = true, s.nextCol, "", 0
	s.val, s.inline = s.val[:0], s.inline[:0]
	for _, a := range e.Attr {
		if a.Name.Space != "" {
			continue
		}
		switch a.Name.Local {
		case "r":
			col, ok := parseColumn(a.Value)
			if !ok {
				return fmt.Errorf("sheet %q, row %d: cell reference %q is not a column letter and a row number", s.wb.sheet, s.row, a.Value)
			}
			s.col = col
		case "t":
			s.typ = a.Value
		case "s":
			s.style, _ = strconv.Atoi(a.Value)
		}
	}
	if s.col >= maxColumns {
		return fmt.Errorf("sheet %q, row %d: a cell beyond column %s", s.wb.sheet, s.row, columnLetters(maxColumns-1))
	}
	return nil
}

// endCell stores the value of the cell just read.
func (s *sheetSource) endCell() error {
	s.inCell = false
	v, err := s.value()
	if err != nil {
		return err
	}
	if v = strings.TrimSpace(v); v != "" {
		for len(s.cells) <= s.col {
			s.cells = append(s.cells, "")
		}
		s.cells[s.col] = v
	}
	s.nextCol = s.col + 1
	return nil
}

// cellError is an error about the current cell.
func (s *sheetSource) cellError(format string, args ...any) error {
	return fmt.Errorf("sheet %q, cell %s%d: %s", s.wb.sheet, columnLetters(s.col), s.row, fmt.Sprintf(format, args...))
}

// value returns the text of the current cell: a date format shows a
// number as YYYY-MM-DD, a boolean is TRUE or FALSE.
func (s *sheetSource) value() (string, error) {
	switch s.typ {
	case "s":
		i, err := strconv.Atoi(strings.TrimSpace(string(s.val)))
		if err != nil {
			return "", s.cellError("shared string index %q is not a number", s.val)
		}
		v, ok := s.wb.sst.get(i)
		if !ok {
			return "", s.cellError("shared string %d, but the workbook has %d", i, len(s.wb.sst.ends))
		}
		return v, nil
	case "inlineStr":
		return string(s.inline), nil
	case "b":
		switch strings.TrimSpace(string(s.val)) {
		case "1":
			return "TRUE", nil
		case "0":
			return "FALSE", nil
		}
		return string(s.val), nil
	case "d": // ISO 8601, rare
		v := strings.TrimSpace(string(s.val))
		if len(v) >= 10 && isISODate(v[:10]) {
			return v[:10], nil
		}
		return v, nil
	case "", "n":
		raw := strings.TrimSpace(string(s.val))
		x, err := strconv.ParseFloat(raw, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return raw, nil
		}
		if s.wb.isDate(s.style) {
			if d, ok := excelDate(x, s.wb.date1904); ok {
				return d, nil
			}
		}
		return formatNumber(x), nil
	}
	return string(s.val), nil // str (a formula's string), e (an error)
}

// isISODate reports whether s is shaped as YYYY-MM-DD.
func isISODate(s string) bool {
	for i := 0; i < len(s); i++ {
		if i == 4 || i == 7 {
			if s[i] != '-' {
				return false
			}
		} else if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return len(s) == 10
}

// excelDate returns the date of a serial day number as YYYY-MM-DD, its time
// of day dropped. In the 1900 date system day 1 is 1900-01-01 and day 60
// the 1900-02-29 that never was (Lotus' leap year bug, kept by Excel): it
// is no date, and later days are one less. In the 1904 system day 0 is
// 1904-01-01. False when x is no date before 10000.
func excelDate(x float64, date1904 bool) (string, bool) {
	if !(x >= 0 && x < 3e6) {
		return "", false
	}
	days := int(math.Floor(math.Round(x*86400) / 86400))
	base := time.Date(1904, 1, 1, 0, 0, 0, 0, time.UTC)
	if !date1904 {
		if days < 1 || days == 60 {
			return "", false
		}
		if days > 60 {
			days--
		}
		base = time.Date(1899, 12, 31, 0, 0, 0, 0, time.UTC)
	}
	t := base.AddDate(0, 0, days)
	if t.Year() > 9999 {
		return "", false
	}
	return t.Format(time.DateOnly), true
}

// formatNumber prints a number as Excel shows it in General format, to 15
// significant digits, without exponent when it can: an integer (an INE, a
// phone number typed as a number) without ".0".
func formatNumber(x float64) string {
	x, _ = strconv.ParseFloat(strconv.FormatFloat(x, 'g', 15, 64), 64)
	if x == 0 {
		return "0"
	}
	if a := math.Abs(x); a >= 1e-6 && a < 1e21 {
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}

// parseColumn returns the column (0-based) of a cell reference such as
// "C5": one to three letters, then digits.
func parseColumn(ref string) (int, bool) {
	col, i := 0, 0
	for ; i < len(ref) && i < 4; i++ {
		c := ref[i] | 0x20 // lower case
		if c < 'a' || c > 'z' {
			break
		}
		col = col*26 + int(c-'a') + 1
	}
	if i == 0 || i > 3 {
		return 0, false
	}
	for _, c := range ref[i:] {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	return col - 1, true
}

// columnLetters returns the letters of column i (0-based): A, ..., Z, AA.
func columnLetters(i int) string {
	var b [8]byte
	n := len(b)
	for i++; i > 0 && n > 0; i = (i - 1) / 26 {
		n--
		b[n] = byte('A' + (i-1)%26)
	}
	return string(b[n:])
}

// attr returns the value of an element's unprefixed attribute.
func attr(e xml.StartElement, local string) (string, bool) {
	for _, a := range e.Attr {
		if a.Name.Local == local && a.Name.Space == "" {
			return a.Value, true
		}
	}
	return "", false
}

// xmlWalker reads the tokens of an XML part, keeping the stack of the
// elements it is in (by local name: prefixes are ignored) and refusing a
// document nested deeper than maxDepth.
type xmlWalker struct {
	d     *xml.Decoder
	part  string
	stack []string
}

func newWalker(r io.Reader, part string) *xmlWalker {
	return &xmlWalker{d: xml.NewDecoder(r), part: part}
}

// next returns the next token. After a StartElement the stack ends with
// the element; after an EndElement, with its parent. io.EOF at the end of
// the document.
func (w *xmlWalker) next() (xml.Token, error) {
	tok, err := w.d.RawToken()
	if err == io.EOF {
		if len(w.stack) > 0 {
			return nil, fmt.Errorf("%s: the document ends inside <%s>", w.part, w.stack[len(w.stack)-1])
		}
		return nil, io.EOF
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", w.part, err)
	}
	switch t := tok.(type) {
	case xml.StartElement:
		if len(w.stack) >= maxDepth {
			return nil, fmt.Errorf("%s: elements nested more than %d deep", w.part, maxDepth)
		}
		w.stack = append(w.stack, t.Name.Local)
	case xml.EndElement:
		if len(w.stack) == 0 || w.stack[len(w.stack)-1] != t.Name.Local {
			return nil, fmt.Errorf("%s: unexpected </%s>", w.part, t.Name.Local)
		}
		w.stack = w.stack[:len(w.stack)-1]
	}
	return tok, nil
}

// in reports whether the stack ends with names.
func (w *xmlWalker) in(names ...string) bool {
	if len(names) > len(w.stack) {
		return false
	}
	base := len(w.stack) - len(names)
	for i, n := range names {
		if w.stack[base+i] != n {
			return false
		}
	}
	return true
}
