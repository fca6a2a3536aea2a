package registration

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHTTPSMS: the generic driver posts {to, text} with the token, and a
// gateway's refusal is an error naming its answer.
func TestHTTPSMS(t *testing.T) {
	var got map[string]string
	var auth string
	status := http.StatusAccepted
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		json.NewDecoder(r.Body).Decode(&got)
		w.WriteHeader(status)
		w.Write([]byte("quota exceeded"))
	}))
	defer srv.Close()
	d := HTTPSMS{URL: srv.URL, Token: "tok"}
	if err := d.SendSMS(context.Background(), "+33600000000", "code 123456"); err != nil {
		t.Fatal(err)
	}
	if got["to"] != "+33600000000" || got["text"] != "code 123456" || auth != "Bearer tok" {
		t.Errorf("gateway got %v with %q", got, auth)
	}
	status = http.StatusTooManyRequests
	if err := d.SendSMS(context.Background(), "+33600000000", "x"); err == nil || !strings.Contains(err.Error(), "429") || !strings.Contains(err.Error(), "quota exceeded") {
		t.Errorf("refusal: %v", err)
	}
}
