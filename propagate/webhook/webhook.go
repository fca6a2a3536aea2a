// Package webhook is the webhook propagation target: each outbox event of
// the types a receiver subscribed to is POSTed to it as JSON, signed with
// HMAC-SHA256, on the dispatcher's retry machinery (package propagate).
//
// A delivery carries:
//
//	Content-Type: application/json
//	X-Canonid-Event: account.merged
//	X-Canonid-Delivery: 1234-1764950400123456 (the delivery id; the same on every redelivery)
//	X-Canonid-Timestamp: 1764950400     (Unix seconds, when this attempt was signed)
//	X-Canonid-Signature: sha256=<hex>   (HMAC-SHA256 of "<timestamp>.<body>" with the secret)
//
// Receivers check the signature with Verify, refuse old timestamps, and
// deduplicate on the delivery id (DeliveryID): delivery is at least once.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/canonid/canonid/propagate"
)

// Header names of a delivery.
const (
	HeaderEvent     = "X-Canonid-Event"
	HeaderDelivery  = "X-Canonid-Delivery"
	HeaderTimestamp = "X-Canonid-Timestamp"
	HeaderSignature = "X-Canonid-Signature"
)

// Config is one webhook (config section webhooks[]).
type Config struct {
	Name   string
	URL    string
	Secret string
	// Events are the event types delivered; empty means
	// propagate.DefaultEvents.
	Events []string
	// Timeout bounds one delivery (default 10 s).
	Timeout time.Duration
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("name is required"))
	}
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, fmt.Errorf("url %q must be an http(s) URL", c.URL))
	}
	if len(c.Secret) < 16 {
		errs = append(errs, errors.New("secret must be at least 16 characters (it signs the deliveries)"))
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("timeout must not be negative"))
	}
	return errors.Join(errs...)
}

// Target delivers events to one webhook.
type Target struct {
	cfg    Config
	client *http.Client
	now    func() time.Time
}

var _ propagate.EventTarget = (*Target)(nil)

// New returns the target; client nil means a client with cfg.Timeout.
func New(cfg Config, client *http.Client) (*Target, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("webhook %s: %w", cfg.Name, err)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if client == nil {
		client = &http.Client{Timeout: cfg.Timeout}
	}
	return &Target{cfg: cfg, client: client, now: time.Now}, nil
}

// Sign returns the signature header value of body at timestamp ts.
func Sign(secret string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.", ts)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a delivery's signature and that its timestamp is within
// tolerance of now, in constant time.
func Verify(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	ts, err := strconv.ParseInt(h.Get(HeaderTimestamp), 10, 64)
	if err != nil {
		return errors.New("webhook: missing or malformed " + HeaderTimestamp)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return errors.New("webhook: timestamp outside the tolerance")
	}
	if !hmac.Equal([]byte(h.Get(HeaderSignature)), []byte(Sign(secret, ts, body))) {
		return errors.New("webhook: bad signature")
	}
	return nil
}

// DeliveryID is the id every delivery of ev carries: its number in the
// outbox and the microsecond it was recorded at, "1234-1764950400123456".
// The number alone repeats after canonid is restored from a backup (the
// outbox goes on from the backup's head), and a receiver deduplicating on
// it would drop the new events; with the time it does not repeat, while a
// redelivery of the same event, even after a restore, keeps it.
func DeliveryID(ev propagate.Event) string {
	return strconv.FormatInt(ev.ID, 10) + "-" + strconv.FormatInt(ev.At.UnixMicro(), 10)
}

// Deliver implements propagate.EventTarget.
func (t *Target) Deliver(ctx context.Context, ev propagate.Event) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("webhook %s: encode event %d: %w", t.cfg.Name, ev.ID, err)
	}
	ctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook %s: %w", t.cfg.Name, err)
	}
	ts := t.now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "canonid")
	req.Header.Set(HeaderEvent, ev.Type)
	req.Header.Set(HeaderDelivery, DeliveryID(ev))
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(t.cfg.Secret, ts, body))
	resp, err := t.client.Do(req)
	if err != nil {
		if ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled) {
			return err
		}
		// Unreachable or too slow: the receiver is down, not the event bad.
		return propagate.Unavailable(fmt.Errorf("webhook %s: %w", t.cfg.Name, redact(err)), 0)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusBadGateway ||
		resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusGatewayTimeout ||
		resp.StatusCode == http.StatusRequestTimeout:
		return propagate.Unavailable(fmt.Errorf("webhook %s: HTTP %d", t.cfg.Name, resp.StatusCode),
			propagate.RetryAfter(resp.Header.Get("Retry-After"), t.now()))
	}
	return fmt.Errorf("webhook %s: event %d refused: HTTP %d: %s", t.cfg.Name, ev.ID, resp.StatusCode,
		strings.TrimSpace(string(snippet)))
}

// redact drops the URL's query (which may hold a token) from a transport
// error.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			u.RawQuery, u.User = "", nil
			return &url.Error{Op: ue.Op, URL: u.String(), Err: ue.Err}
		}
	}
	return err
}
