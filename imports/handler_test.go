package imports

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
)

func TestHandler(t *testing.T) {
	gin.SetMode(gin.TestMode)
	st := storetest.OpenSQLite(t)
	svc := New(st, []Connector{arsConnector(t, `correlate: [email]`)}, identity.DefaultPrecedence(), discard())
	role := store.RoleSupport
	h := NewHandler(svc, func(*http.Request) (store.APIToken, bool) { return store.APIToken{Name: "ops", Role: role}, true }, "test")
	engine := gin.New()
	h.Mount(engine.Group("/api/v1"))

	upload := func(connector, name, body, query string) *httptest.ResponseRecorder {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		if name != "" {
			fw, _ := mw.CreateFormFile("file", name)
			fw.Write([]byte(body))
		}
		mw.Close()
		req := httptest.NewRequest(http.MethodPost, "/api/v1/imports/"+connector+query, &buf)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		w := httptest.NewRecorder()
		engine.ServeHTTP(w, req)
		return w
	}
	get := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		engine.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		return w
	}

	file := "Nom;Prénom;Date de naissance;Mail\nMartin;Camille;12/04/1999;camille@perso.example\nPetit;Léa;31/02/2000;lea@perso.example\n"
	w := upload("ars-occitanie", "interns.csv", file, "")
	var rep Report
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &rep) != nil || rep.Created != 1 || len(rep.Errors) != 1 || rep.ImportID == "" {
		t.Fatalf("POST: %d %s", w.Code, w.Body)
	}
	w = upload("ars-occitanie", "interns.csv", file, "?dry_run=true")
	if w.Code != http.StatusOK || !bytes.Contains(w.Body.Bytes(), []byte(`"unchanged":1`)) {
		t.Fatalf("dry run: %d %s", w.Code, w.Body)
	}
	if w = upload("ars-occitanie", "nomail.csv", "Nom;Prénom;Date de naissance\nA;B;01/01/2000\n", ""); w.Code != http.StatusUnprocessableEntity ||
		!bytes.Contains(w.Body.Bytes(), []byte("missing required column Mail")) {
		t.Fatalf("missing column: %d %s", w.Code, w.Body)
	}
	if w = upload("ars-occitanie", "interns.csv", file, "?strict=true"); w.Code != http.StatusUnprocessableEntity {
		t.Fatalf("strict: %d %s", w.Code, w.Body)
	}
	if w = upload("nope", "interns.csv", file, ""); w.Code != http.StatusNotFound {
		t.Fatalf("unknown connector: %d %s", w.Code, w.Body)
	}
	if w = upload("ars-occitanie", "", "", ""); w.Code != http.StatusBadRequest {
		t.Fatalf("no file: %d %s", w.Code, w.Body)
	}
	if w = upload("ars-occitanie", "interns.csv", file, "?strict=maybe"); w.Code != http.StatusBadRequest {
		t.Fatalf("bad flag: %d %s", w.Code, w.Body)
	}

	// Past imports: the dry run is not recorded.
	w = get("/api/v1/imports?connector=ars-occitanie")
	var list struct {
		Imports []importJSON `json:"imports"`
	}
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &list) != nil || len(list.Imports) != 3 {
		t.Fatalf("GET list: %d %s", w.Code, w.Body)
	}
	w = get("/api/v1/imports/" + rep.ImportID)
	if w.Code != http.StatusOK || !bytes.Contains(w.Body.Bytes(), []byte(`"report":{"import_id":"`+rep.ImportID)) {
		t.Fatalf("GET one: %d %s", w.Code, w.Body)
	}
	if w = get("/api/v1/imports/missing"); w.Code != http.StatusNotFound {
		t.Fatalf("GET missing: %d", w.Code)
	}
	role = store.RoleOrgAdmin
	if w = get("/api/v1/imports"); w.Code != http.StatusForbidden {
		t.Fatalf("org-admin: %d", w.Code)
	}
}
