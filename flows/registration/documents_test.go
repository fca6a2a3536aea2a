package registration

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
)

var (
	pdfFile  = []byte("%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n")
	pngFile  = append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 32)...)
	jpegFile = append([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"), make([]byte, 32)...)
)

// TestDocuments: PDF, PNG and JPEG by content, at most 10 MB, by the
// member's link or an administrator of the org.
func TestDocuments(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		link := tokenOf(t, e.register("cpts-x", "doc@example.org", "Doc", "Tor")[0])
		a := e.accountOf("doc@example.org")

		d, err := e.svc.AddDocumentByLink(t.Context(), link, "../../diplôme.pdf", bytes.NewReader(pdfFile))
		if err != nil || d.ContentType != "application/pdf" || d.Name != "diplôme.pdf" || d.AddedBy != "account:"+a.ID {
			t.Fatalf("by link: %+v, %v", d, err)
		}
		if _, err := e.svc.AddDocumentByLink(t.Context(), "forged", "x.pdf", bytes.NewReader(pdfFile)); !errors.Is(err, ErrInvalidLink) {
			t.Fatalf("forged link: %v", err)
		}
		if _, err := e.svc.AddDocument(t.Context(), "cpts-y", a.ID, "x.pdf", bytes.NewReader(pdfFile), "token:admin-y"); !errors.Is(err, ErrNotMember) {
			t.Fatalf("not a member: %v", err)
		}

		base := "/api/v1/orgs/cpts-x/members/" + a.ID + "/documents"
		for _, c := range []struct {
			name, token string
			body        []byte
			want        int
		}{
			{"carte.png", "admin-x", pngFile, 201},
			{"photo.jpg", "support", jpegFile, 201},
			{"fake.pdf", "admin-x", []byte("<html><script>alert(1)</script></html>"), 415},
			{"empty.pdf", "admin-x", nil, 415},
			{"big.pdf", "admin-x", append(append([]byte{}, pdfFile...), make([]byte, MaxDocumentBytes)...), 413},
			{"x.png", "admin-y", pngFile, 403},
		} {
			req, _ := http.NewRequestWithContext(t.Context(), "POST", e.Server.URL+base+"?name="+c.name, bytes.NewReader(c.body))
			req.Header.Set("Authorization", "Bearer "+c.token)
			req.Header.Set("Content-Type", "application/pdf") // not trusted
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != c.want {
				t.Errorf("%s as %s: %d %s, want %d", c.name, c.token, res.StatusCode, b, c.want)
			}
		}

		res := e.do("GET", base, "admin-x", nil, nil)
		docs, _ := res.Body["documents"].([]any)
		if res.Status != 200 || len(docs) != 3 {
			t.Fatalf("list: %d %s", res.Status, res.Raw)
		}
		if res := e.do("GET", base, "admin-y", nil, nil); res.Status != 403 {
			t.Fatalf("list as admin-y: %d", res.Status)
		}

		get := e.do("GET", base+"/"+d.ID, "admin-x", nil, nil)
		if get.Status != 200 || get.Raw != string(pdfFile) {
			t.Fatalf("download: %d %q", get.Status, get.Raw)
		}
		if res := e.do("GET", base+"/"+strings.Repeat("0", 64), "admin-x", nil, nil); res.Status != 404 {
			t.Fatalf("unknown document: %d", res.Status)
		}
		storetest.CheckInvariants(t, st)
	})
}
