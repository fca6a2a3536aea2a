package browsertest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// page is a form without script, as canonid's pages are: labelled fields,
// a checkbox, a button that posts.
const page = `<!doctype html><html lang="fr"><head><title>Formulaire</title></head><body>
<h1 id="title">Bonjour</h1>
<form method="post" action="/done">
<p><label>Prénom<br><input type="text" name="given_name" value="old"></label></p>
<p><label for="family">Nom</label><input id="family" type="text" name="family_name"></p>
<p><input type="text" name="code"></p>
<p><input type="checkbox" id="ok" name="ok" value="yes"><label for="ok">J'accepte</label></p>
<button type="submit" aria-label="Envoyer le formulaire">Envoyer</button>
</form>
<a href="/missing">Lien cassé</a>
</body></html>`

func server(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'") // as canonid's pages: no script
		fmt.Fprint(w, page)
	})
	mux.HandleFunc("POST /done", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "%s|%s|%s|%s|%s", r.PostFormValue("given_name"), r.PostFormValue("family_name"),
			r.PostFormValue("code"), r.PostFormValue("ok"), r.Header.Get("Accept-Language"))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestBrowser(t *testing.T) {
	srv := server(t)
	b := New(t)
	if status := b.Navigate(srv.URL + "/"); status != http.StatusOK {
		t.Fatalf("GET /: %d", status)
	}
	if got := b.Title(); got != "Formulaire" {
		t.Errorf("title %q", got)
	}
	if got := b.Text("#title"); got != "Bonjour" {
		t.Errorf("text %q", got)
	}
	if got := b.Attr("#family", "name"); got != "family_name" {
		t.Errorf("attribute %q", got)
	}
	b.Fill("Prénom", "Marie") // a label around its field, replacing its value
	b.Fill("Nom", "Curie")    // a label for its field
	b.Fill("code", "123456")  // by name
	b.Check("J'accepte")      // a checkbox by its label
	if status := b.Click("Envoyer"); status != http.StatusOK {
		t.Fatalf("POST: %d", status)
	}
	if got, want := b.PageText(), "Marie|Curie|123456|yes|fr-FR,fr"; !strings.HasPrefix(got, want) {
		t.Errorf("posted %q, want %q…", got, want)
	}
	if got := b.URL(); got != srv.URL+"/done" {
		t.Errorf("URL %q", got)
	}

	b.Navigate(srv.URL + "/")
	if status := b.Follow("Lien cassé"); status != http.StatusNotFound {
		t.Errorf("broken link: %d, want 404", status)
	}
}

// TestScreenshotNeedsTheVariable: without CANONID_SCREENSHOTS=1 nothing is
// written; with it, a PNG lands in docs/screenshots of the module.
func TestScreenshotNeedsTheVariable(t *testing.T) {
	srv := server(t)
	b := New(t)
	b.Navigate(srv.URL + "/")
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "docs", "screenshots", "browsertest-selftest.png")
	t.Setenv(EnvScreenshots, "")
	b.Screenshot("browsertest-selftest")
	if _, err := os.Stat(path); err == nil {
		t.Fatalf("%s written without %s=1", path, EnvScreenshots)
	}
	t.Setenv(EnvScreenshots, "1")
	t.Cleanup(func() { os.Remove(path) })
	b.Screenshot("browsertest-selftest")
	png, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(png), "\x89PNG\r\n") {
		t.Errorf("%s is not a PNG", path)
	}
}
