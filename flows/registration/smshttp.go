package registration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// HTTPSMS is the generic HTTP driver: each message is a POST of
// {"to": "+33…", "text": "…"} as JSON to URL, with "Authorization: Bearer
// Token" when Token is set; any 2xx answer means sent. Most SMS gateways
// accept this shape directly or through a small adapter.
type HTTPSMS struct {
	URL   string
	Token string
	// Client sends the requests; nil uses one with a 10 s timeout.
	Client *http.Client
}

var _ SMSSender = HTTPSMS{}

// SendSMS posts the message to the gateway.
func (h HTTPSMS) SendSMS(ctx context.Context, to, text string) error {
	body, err := json.Marshal(map[string]string{"to": to, "text": text})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("sms gateway: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if h.Token != "" {
		req.Header.Set("Authorization", "Bearer "+h.Token)
	}
	c := h.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	res, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("sms gateway: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return fmt.Errorf("sms gateway answered %s: %s", res.Status, bytes.TrimSpace(msg))
	}
	return nil
}
