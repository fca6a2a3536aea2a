package csvimport

import (
	"archive/zip"
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

// Limits against hostile workbooks.
const (
	maxPartSize     = 512 << 20 // uncompressed size of one part read
	maxSharedString = 4 << 20   // shared strings kept
	maxColumns      = 16384     // XLSX's own limit (XFD)
)

// openXLSX reads the workbook's parts that the rows need: the sheet's path,
// the shared strings and which cell styles are dates.
func (f *File) openXLSX(r io.ReaderAt, size int64) error {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return fmt.Errorf("not an xlsx file (zip): %w", err)
	}
	files := map[string]*zip.File{}
	for _, zf := range zr.File {
		files[strings.TrimPrefix(zf.Name, "/")] = zf
	}
	sheet, date1904, err := findSheet(files, f.cfg.Sheet)
	if err != nil {
		return err
	}
	shared, err := sharedStrings(files["xl/sharedStrings.xml"])
	if err != nil {
		return err
	}
	dates, err := dateStyles(files["xl/styles.xml"])
	if err != nil {
		return err
	}
	f.encoding = "utf-8"
	f.open = func() (rowReader, error) {
		rc, err := openPart(sheet)
		if err != nil {
			return nil, err
		}
		return &xlsxRows{dec: xml.NewDecoder(rc), shared: shared, dates: dates, date1904: date1904}, nil
	}
	return nil
}

// openPart opens a zip entry, refusing oversized ones.
func openPart(zf *zip.File) (io.Reader, error) {
	if zf.UncompressedSize64 > maxPartSize {
		return nil, fmt.Errorf("xlsx: %s is too large (%d bytes)", zf.Name, zf.UncompressedSize64)
	}
	rc, err := zf.Open()
	if err != nil {
		return nil, fmt.Errorf("xlsx: %s: %w", zf.Name, err)
	}
	return io.LimitReader(rc, maxPartSize), nil
}

// decodePart unmarshals a whole (small) part.
func decodePart(zf *zip.File, v any) error {
	r, err := openPart(zf)
	if err != nil {
		return err
	}
	if err := xml.NewDecoder(r).Decode(v); err != nil {
		return fmt.Errorf("xlsx: %s: %w", zf.Name, err)
	}
	return nil
}

// findSheet returns the zip entry of the named sheet (the first when name
// is empty) and whether the workbook counts dates from 1904.
func findSheet(files map[string]*zip.File, name string) (*zip.File, bool, error) {
	wb := files["xl/workbook.xml"]
	if wb == nil {
		return nil, false, errors.New("not an xlsx workbook: no xl/workbook.xml")
	}
	var book struct {
		Pr struct {
			Date1904 string `xml:"date1904,attr"`
		} `xml:"workbookPr"`
		Sheets []struct {
			Name string `xml:"name,attr"`
			RID  string `xml:"http://schemas.openxmlformats.org/officeDocument/2006/relationships id,attr"`
		} `xml:"sheets>sheet"`
	}
	if err := decodePart(wb, &book); err != nil {
		return nil, false, err
	}
	if len(book.Sheets) == 0 {
		return nil, false, errors.New("xlsx: the workbook has no sheet")
	}
	chosen := book.Sheets[0]
	if name != "" {
		found := false
		for _, s := range book.Sheets {
			if s.Name == name {
				chosen, found = s, true
			}
		}
		if !found {
			return nil, false, fmt.Errorf("xlsx: no sheet %q", name)
		}
	}
	target := ""
	if rels := files["xl/_rels/workbook.xml.rels"]; rels != nil {
		var rs struct {
			Rels []struct {
				ID     string `xml:"Id,attr"`
				Target string `xml:"Target,attr"`
			} `xml:"Relationship"`
		}
		if err := decodePart(rels, &rs); err != nil {
			return nil, false, err
		}
		for _, r := range rs.Rels {
			if r.ID == chosen.RID {
				target = r.Target
			}
		}
	}
	if target == "" {
		target = "worksheets/sheet1.xml"
	}
	if strings.HasPrefix(target, "/") {
		target = strings.TrimPrefix(target, "/")
	} else {
		target = path.Join("xl", target)
	}
	sheet := files[target]
	if sheet == nil {
		return nil, false, fmt.Errorf("xlsx: sheet %q: no part %s", chosen.Name, target)
	}
	d := book.Pr.Date1904
	return sheet, d == "1" || d == "true", nil
}

// sharedStrings reads the shared string table (rich text runs joined).
func sharedStrings(zf *zip.File) ([]string, error) {
	if zf == nil {
		return nil, nil
	}
	r, err := openPart(zf)
	if err != nil {
		return nil, err
	}
	dec := xml.NewDecoder(r)
	var out []string
	var cur strings.Builder
	inSI, inT := false, false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("xlsx: shared strings: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "si":
				inSI = true
				cur.Reset()
			case "t":
				inT = inSI
			case "rPh": // phonetic runs are not part of the text
				if err := dec.Skip(); err != nil {
					return nil, fmt.Errorf("xlsx: shared strings: %w", err)
				}
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "si":
				if len(out) >= maxSharedString {
					return nil, errors.New("xlsx: too many shared strings")
				}
				out = append(out, cur.String())
				inSI = false
			case "t":
				inT = false
			}
		case xml.CharData:
			if inT {
				cur.Write(t)
			}
		}
	}
}

// dateStyles reads which cell formats (cellXfs indexes) show dates.
func dateStyles(zf *zip.File) (map[int]bool, error) {
	out := map[int]bool{}
	if zf == nil {
		return out, nil
	}
	var st struct {
		NumFmts []struct {
			ID   int    `xml:"numFmtId,attr"`
			Code string `xml:"formatCode,attr"`
		} `xml:"numFmts>numFmt"`
		Xfs []struct {
			NumFmtID int `xml:"numFmtId,attr"`
		} `xml:"cellXfs>xf"`
	}
	if err := decodePart(zf, &st); err != nil {
		return nil, err
	}
	custom := map[int]bool{}
	for _, f := range st.NumFmts {
		custom[f.ID] = isDateFormat(f.Code)
	}
	for i, x := range st.Xfs {
		id := x.NumFmtID
		if (id >= 14 && id <= 17) || id == 22 || (id >= 27 && id <= 36) || (id >= 50 && id <= 58) || custom[id] {
			out[i] = true
		}
	}
	return out, nil
}

// isDateFormat reports whether a number format code shows a date: it holds
// d, m or y outside quotes, brackets and escapes.
func isDateFormat(code string) bool {
	inQuote, inBracket := false, false
	for i := 0; i < len(code); i++ {
		c := code[i]
		switch {
		case c == '"':
			inQuote = !inQuote
		case inQuote:
		case c == '[':
			inBracket = true
		case c == ']':
			inBracket = false
		case inBracket:
		case c == '\\' || c == '_' || c == '*':
			i++
		case c == 'd' || c == 'D' || c == 'y' || c == 'Y' || c == 'm' || c == 'M':
			return true
		}
	}
	return false
}

// xlsxRows streams the rows of a sheet.
type xlsxRows struct {
	dec      *xml.Decoder
	shared   []string
	dates    map[int]bool
	date1904 bool
	lastRow  int
}

func (x *xlsxRows) next() (int, []string, error) {
	for {
		tok, err := x.dec.Token()
		if errors.Is(err, io.EOF) {
			return 0, nil, io.EOF
		}
		if err != nil {
			return 0, nil, fmt.Errorf("xlsx: sheet: %w", err)
		}
		start, ok := tok.(xml.StartElement)
		if !ok || start.Name.Local != "row" {
			continue
		}
		line := x.lastRow + 1
		for _, a := range start.Attr {
			if a.Name.Local == "r" {
				if n, err := strconv.Atoi(a.Value); err == nil && n > 0 {
					line = n
				}
			}
		}
		x.lastRow = line
		cells, err := x.row()
		if err != nil {
			return 0, nil, fmt.Errorf("xlsx: row %d: %w", line, err)
		}
		blank := true
		for _, c := range cells {
			if strings.TrimSpace(c) != "" {
				blank = false
				break
			}
		}
		if !blank {
			return line, cells, nil
		}
	}
}

// row reads the cells of a <row> up to its end.
func (x *xlsxRows) row() ([]string, error) {
	var cells []string
	next := 0
	for {
		tok, err := x.dec.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			if t.Name.Local == "row" {
				return cells, nil
			}
		case xml.StartElement:
			if t.Name.Local != "c" {
				continue
			}
			col, typ, style := next, "", -1
			for _, a := range t.Attr {
				switch a.Name.Local {
				case "r":
					if c, ok := columnIndex(a.Value); ok {
						col = c
					}
				case "t":
					typ = a.Value
				case "s":
					style, _ = strconv.Atoi(a.Value)
				}
			}
			if col >= maxColumns {
				return nil, fmt.Errorf("cell beyond column %d", maxColumns)
			}
			v, err := x.cell(typ, style)
			if err != nil {
				return nil, err
			}
			for len(cells) <= col {
				cells = append(cells, "")
			}
			cells[col] = v
			next = col + 1
		}
	}
}

// cell reads the value of a <c> up to its end.
func (x *xlsxRows) cell(typ string, style int) (string, error) {
	var v, inline strings.Builder
	inV, inT := false, false
	for {
		tok, err := x.dec.Token()
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "v":
				inV = true
			case "t":
				inT = true
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "v":
				inV = false
			case "t":
				inT = false
			case "c":
				return x.value(typ, style, v.String(), inline.String()), nil
			}
		case xml.CharData:
			if inV {
				v.Write(t)
			} else if inT {
				inline.Write(t)
			}
		}
	}
}

// value renders a cell as text.
func (x *xlsxRows) value(typ string, style int, v, inline string) string {
	switch typ {
	case "s":
		i, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || i < 0 || i >= len(x.shared) {
			return ""
		}
		return x.shared[i]
	case "inlineStr":
		return inline
	case "str", "e":
		return v
	case "b":
		if strings.TrimSpace(v) == "1" {
			return "TRUE"
		}
		return "FALSE"
	}
	v = strings.TrimSpace(v)
	n, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return v
	}
	if x.dates[style] {
		if d, ok := serialDate(n, x.date1904); ok {
			return d
		}
	}
	if n == math.Trunc(n) && math.Abs(n) < 1e15 {
		return strconv.FormatInt(int64(n), 10)
	}
	return strconv.FormatFloat(n, 'f', -1, 64)
}

// serialDate turns a spreadsheet date serial into YYYY-MM-DD.
func serialDate(n float64, date1904 bool) (string, bool) {
	days := int(math.Floor(n))
	if days < 1 || days > 2958465 { // 9999-12-31
		return "", false
	}
	base := time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC)
	if date1904 {
		base = time.Date(1904, 1, 1, 0, 0, 0, 0, time.UTC)
	} else if days < 61 {
		// Lotus 1-2-3 counted 1900-02-29, which did not exist: serials
		// before it are one day off.
		if days == 60 {
			return "", false
		}
		days++
	}
	return base.AddDate(0, 0, days).Format("2006-01-02"), true
}

// columnIndex turns a cell reference ("C5") into a 0-based column.
func columnIndex(ref string) (int, bool) {
	col := 0
	n := 0
	for _, c := range ref {
		if c >= 'A' && c <= 'Z' {
			col = col*26 + int(c-'A'+1)
			n++
			if col > maxColumns {
				return 0, false
			}
			continue
		}
		break
	}
	if n == 0 {
		return 0, false
	}
	return col - 1, true
}
