// Package browsertest drives a real browser through canonid's pages in
// end-to-end tests: Debian's headless chromium, started by the test through
// the Chrome DevTools Protocol (github.com/chromedp/chromedp), one browser
// per call to New, closed when the test ends.
//
// The helpers act as a person does: open a URL, fill a field found by its
// label (or its name), click a button found by its text, and read the page.
// Each action waits for what it needs (the element, the page its click
// loads) within Browser.Timeout: the tests never sleep.
//
// New skips the test when chromium is not installed (apt-get install
// chromium), unless the environment sets CANONID_REQUIRE_INTEGRATION=1, in
// which case it fails it. Screenshot writes docs/screenshots/<name>.png only
// when CANONID_SCREENSHOTS=1, so that ordinary runs rewrite no file.
package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Environment variables the package reads.
const (
	// EnvRequireIntegration set to 1 turns a missing chromium from a skip
	// into a failure.
	EnvRequireIntegration = "CANONID_REQUIRE_INTEGRATION"
	// EnvScreenshots set to 1 makes Screenshot write its files.
	EnvScreenshots = "CANONID_SCREENSHOTS"
)

// executables are the names New looks for on PATH, in order.
var executables = []string{"chromium", "chromium-browser"}

// DefaultTimeout bounds each action of a Browser.
const DefaultTimeout = 30 * time.Second

// Options tune the browser New starts. Zero fields take their defaults.
type Options struct {
	// Language is the Accept-Language the browser sends. Default
	// "fr-FR,fr": canonid's pages are French by default.
	Language string
	// Width and Height are the window's size in pixels. Default 1280×900.
	Width, Height int
}

// Browser is one headless chromium with one tab.
type Browser struct {
	// Timeout bounds each action; DefaultTimeout unless changed.
	Timeout time.Duration

	t   testing.TB
	ctx context.Context
}

// New starts a browser with the default Options for the test t, and closes
// it when t ends.
func New(t testing.TB) *Browser {
	t.Helper()
	return NewWith(t, Options{})
}

// NewWith starts a browser with o for the test t, and closes it when t
// ends. Without chromium on PATH it skips t, or fails it when
// CANONID_REQUIRE_INTEGRATION=1.
func NewWith(t testing.TB, o Options) *Browser {
	t.Helper()
	path, err := findChromium()
	if err != nil {
		if os.Getenv(EnvRequireIntegration) == "1" {
			t.Fatalf("browsertest: %v, and %s=1", err, EnvRequireIntegration)
		}
		t.Skipf("browsertest: %v: install it (apt-get install chromium) to run this end-to-end test", err)
	}
	if o.Language == "" {
		o.Language = "fr-FR,fr"
	}
	if o.Width == 0 || o.Height == 0 {
		o.Width, o.Height = 1280, 900
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		// Tests run as root in containers, where the sandbox cannot
		// start; the browser only visits the test's own server.
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.WindowSize(o.Width, o.Height),
		chromedp.Flag("lang", o.Language),
		chromedp.Flag("accept-lang", o.Language),
		chromedp.Flag("hide-scrollbars", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	b := &Browser{Timeout: DefaultTimeout, t: t, ctx: ctx}
	// Start the browser now, so that a broken installation fails here.
	// The first run must get the browser's own context (the browser lives
	// as long as the context of its first run): it is bounded by a timer
	// instead, whose expiry ends the test, and the cleanup the browser.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	timer := time.NewTimer(b.Timeout)
	defer timer.Stop()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("browsertest: start %s: %v", path, err)
		}
	case <-timer.C:
		t.Fatalf("browsertest: %s did not start within %s", path, b.Timeout)
	}
	return b
}

// findChromium returns the path of the first of executables on PATH.
func findChromium() (string, error) {
	for _, name := range executables {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no browser on PATH (looked for %s)", strings.Join(executables, ", "))
}

// do runs actions within the timeout.
func (b *Browser) do(actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(b.ctx, b.Timeout)
	defer cancel()
	return chromedp.Do(ctx, actions...)
}

// run runs one action that returns a value within the timeout.
func run[T any](b *Browser, a chromedp.Action[T]) (T, error) {
	ctx, cancel := context.WithTimeout(b.ctx, b.Timeout)
	defer cancel()
	return chromedp.Run(ctx, a)
}

// navigation runs actions that load a page and returns its HTTP status.
func (b *Browser) navigation(actions ...chromedp.Action[chromedp.Void]) (int, error) {
	ctx, cancel := context.WithTimeout(b.ctx, b.Timeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, actions...)
	if err != nil {
		return 0, err
	}
	if resp == nil {
		return 0, errors.New("no response")
	}
	return int(resp.Status), nil
}

// Navigate opens url in the tab, waits until it is loaded and returns the
// HTTP status of the page (the last one, after redirects).
func (b *Browser) Navigate(url string) int {
	b.t.Helper()
	status, err := b.navigation(chromedp.Navigate(url))
	if err != nil {
		b.t.Fatalf("browsertest: navigate to %s: %v", url, err)
	}
	return status
}

// The page-side lookups. Each is an expression that gives the element or
// null; chromedp waits until it gives an element.

// findField finds the form control whose label (its own text, not that
// of the control it contains) or aria-label is the text, else whose name
// is the text.
const findField = `(() => {
  const want = %s;
  const norm = s => (s || "").replace(/\s+/g, " ").trim();
  const ownText = l => Array.from(l.childNodes)
    .filter(n => !(n.nodeType === 1 && ["INPUT", "SELECT", "TEXTAREA", "BUTTON"].includes(n.nodeName)))
    .map(n => n.textContent).join(" ");
  for (const l of document.querySelectorAll("label")) {
    if (l.control && norm(ownText(l)) === want) return l.control;
  }
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (norm(el.getAttribute("aria-label")) === want) return el;
  }
  return document.getElementsByName(want)[0] || null;
})()`

// findButton finds the button whose text, value or aria-label is the
// text.
const findButton = `(() => {
  const want = %s;
  const norm = s => (s || "").replace(/\s+/g, " ").trim();
  for (const el of document.querySelectorAll("button, input[type=submit], input[type=button]")) {
    if (norm(el.textContent) === want || norm(el.value) === want || norm(el.getAttribute("aria-label")) === want) return el;
  }
  return null;
})()`

// findLink finds the link whose text or aria-label is the text.
const findLink = `(() => {
  const want = %s;
  const norm = s => (s || "").replace(/\s+/g, " ").trim();
  for (const el of document.querySelectorAll("a[href]")) {
    if (norm(el.textContent) === want || norm(el.getAttribute("aria-label")) === want) return el;
  }
  return null;
})()`

// jsPath is a lookup for the text, safely quoted.
func jsPath(lookup, text string) chromedp.JSPath {
	q, _ := json.Marshal(text)
	return chromedp.JSPath(fmt.Sprintf(lookup, q))
}

// Fill types value into the form field labelled (or named) field,
// replacing what it held.
func (b *Browser) Fill(field, value string) {
	b.t.Helper()
	sel := jsPath(findField, field)
	clear := chromedp.Evaluate[chromedp.Void](string(sel) + `.value = ""`)
	if err := b.do(chromedp.WaitReady(sel), clear, chromedp.SendKeys(sel, value)); err != nil {
		b.t.Fatalf("browsertest: fill %q: %v", field, err)
	}
}

// Check ticks the checkbox labelled (or named) field, if it is not ticked.
func (b *Browser) Check(field string) {
	b.t.Helper()
	sel := jsPath(findField, field)
	checked, err := run(b, chromedp.JavascriptAttribute[bool](sel, "checked"))
	if err == nil && !checked {
		err = b.do(chromedp.Click(sel))
	}
	if err != nil {
		b.t.Fatalf("browsertest: check %q: %v", field, err)
	}
}

// Click clicks the button whose text (or aria-label) is text, waits for
// the page the form's submission loads, and returns its HTTP status (the
// last one, after redirects).
func (b *Browser) Click(text string) int {
	b.t.Helper()
	status, err := b.navigation(chromedp.Click(jsPath(findButton, text)))
	if err != nil {
		b.t.Fatalf("browsertest: click the button %q: %v", text, err)
	}
	return status
}

// Follow clicks the link whose text (or aria-label) is text, waits for the
// page it loads and returns its HTTP status.
func (b *Browser) Follow(text string) int {
	b.t.Helper()
	status, err := b.navigation(chromedp.Click(jsPath(findLink, text)))
	if err != nil {
		b.t.Fatalf("browsertest: follow the link %q: %v", text, err)
	}
	return status
}

// Text returns the text the person sees in the first element matching the
// CSS selector, waiting for one to exist.
func (b *Browser) Text(selector string) string {
	b.t.Helper()
	s, err := run(b, chromedp.Text(chromedp.CSS(selector)))
	if err != nil {
		b.t.Fatalf("browsertest: text of %s: %v", selector, err)
	}
	return s
}

// Attr returns an attribute of the first element matching the CSS
// selector ("" when the element has none), waiting for one to exist.
func (b *Browser) Attr(selector, name string) string {
	b.t.Helper()
	r, err := run(b, chromedp.AttributeValue(chromedp.CSS(selector), name))
	if err != nil {
		b.t.Fatalf("browsertest: attribute %s of %s: %v", name, selector, err)
	}
	return r.Value
}

// PageText returns the text the person sees in the whole page.
func (b *Browser) PageText() string {
	b.t.Helper()
	return b.Text("body")
}

// Title returns the page's title.
func (b *Browser) Title() string {
	b.t.Helper()
	s, err := run(b, chromedp.Title())
	if err != nil {
		b.t.Fatalf("browsertest: title: %v", err)
	}
	return s
}

// URL returns the address of the page shown.
func (b *Browser) URL() string {
	b.t.Helper()
	s, err := run(b, chromedp.Location())
	if err != nil {
		b.t.Fatalf("browsertest: location: %v", err)
	}
	return s
}

// screenshotName is what Screenshot accepts as a file name.
var screenshotName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// Screenshot writes a PNG of the whole page to docs/screenshots/<name>.png
// of the module (name: lower-case letters, digits and dashes) when
// CANONID_SCREENSHOTS=1; otherwise it does nothing.
func (b *Browser) Screenshot(name string) {
	b.t.Helper()
	if !screenshotName.MatchString(name) {
		b.t.Fatalf("browsertest: screenshot name %q: use lower-case letters, digits and dashes", name)
	}
	if os.Getenv(EnvScreenshots) != "1" {
		return
	}
	png, err := run(b, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("browsertest: screenshot %s: %v", name, err)
	}
	root, err := moduleRoot()
	if err != nil {
		b.t.Fatalf("browsertest: screenshot %s: %v", name, err)
	}
	dir := filepath.Join(root, "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatalf("browsertest: screenshot %s: %v", name, err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatalf("browsertest: screenshot %s: %v", name, err)
	}
	b.t.Logf("browsertest: wrote %s", path)
}

// moduleRoot returns the directory of the go.mod above the working
// directory (a test runs in its package's directory).
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
