package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
)

// ctxKey is the type of the request-context keys of this package.
type ctxKey int

const (
	requestIDKey ctxKey = iota
	callerKey
)

// HeaderRequestID carries the request id, in and out.
const HeaderRequestID = "X-Request-Id"

// maxRequestIDLen bounds an incoming request id.
const maxRequestIDLen = 128

// RequestID returns the id of the request ctx belongs to, or "" outside a
// request.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// validRequestID accepts 1 to 128 characters of [A-Za-z0-9._-].
func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9', b == '.', b == '_', b == '-':
		default:
			return false
		}
	}
	return true
}

// requestID adopts a well-formed incoming X-Request-Id or makes a new one,
// echoes it and puts it in the request context.
func (s *Server) requestID(c *gin.Context) {
	id := c.GetHeader(HeaderRequestID)
	if !validRequestID(id) {
		id = uuid.NewString()
	}
	c.Header(HeaderRequestID, id)
	c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), requestIDKey, id))
	c.Next()
}

// accessLog logs one line per request, at Error for 5xx and Info otherwise.
// The query string is left out: it may carry secrets.
func (s *Server) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	status := c.Writer.Status()
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	ctx := c.Request.Context()
	s.log.LogAttrs(ctx, level, "http request",
		slog.String("method", c.Request.Method),
		slog.String("path", c.Request.URL.Path),
		slog.Int("status", status),
		slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
		slog.String("request_id", RequestID(ctx)),
		slog.String("remote", c.ClientIP()),
		slog.Int("bytes", max(c.Writer.Size(), 0)),
	)
}

// httpMetrics are the request metrics of one Server.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// newHTTPMetrics creates the metrics on reg, reusing identical collectors
// already registered there (a second Server on the same registry).
func newHTTPMetrics(reg prometheus.Registerer, version string) httpMetrics {
	if version == "" {
		version = "unknown"
	}
	m := httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "canonid_http_requests_total",
			Help: "HTTP requests answered, by method, route template and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "canonid_http_request_duration_seconds",
			Help:    "HTTP request duration, by method and route template.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route"}),
	}
	m.requests = register(reg, m.requests)
	m.duration = register(reg, m.duration)
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "canonid_build_info",
		Help:        "Always 1; the version label is the running build.",
		ConstLabels: prometheus.Labels{"version": version},
	})
	info.Set(1)
	register(reg, info)
	return m
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(fmt.Sprintf("server: register metrics: %v", err))
	}
	return c
}

// metricMethod bounds the method label to the standard methods.
func metricMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

// observe records the request metrics, labelled by the matched route
// template so that cardinality stays bounded.
func (s *Server) observe(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	method := metricMethod(c.Request.Method)
	s.metrics.requests.WithLabelValues(method, route, strconv.Itoa(c.Writer.Status())).Inc()
	s.metrics.duration.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
}

// recovery turns a panic in a handler into a logged error and a 500 answer
// carrying the request id. http.ErrAbortHandler is re-raised, as net/http
// expects.
func (s *Server) recovery(c *gin.Context) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if err, ok := r.(error); ok && errors.Is(err, http.ErrAbortHandler) {
			panic(r)
		}
		ctx := c.Request.Context()
		id := RequestID(ctx)
		s.log.LogAttrs(ctx, slog.LevelError, "panic serving request",
			slog.String("panic", fmt.Sprint(r)),
			slog.String("method", c.Request.Method),
			slog.String("path", c.Request.URL.Path),
			slog.String("request_id", id),
			slog.String("stack", string(debug.Stack())),
		)
		if c.Writer.Written() {
			// Too late to answer: the status line is gone.
			c.Abort()
			return
		}
		// Drop what the handler prepared for its own answer.
		c.Writer.Header().Del("Content-Type")
		c.Writer.Header().Del("Content-Length")
		if isSCIMPath(c.Request.URL.Path) {
			writeSCIMError(c, http.StatusInternalServerError, "internal error (request id "+id+")")
			return
		}
		c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": "internal error", "request_id": id})
	}()
	c.Next()
}

// isSCIMPath reports whether p is under SCIMPrefix.
func isSCIMPath(p string) bool {
	return p == SCIMPrefix || strings.HasPrefix(p, SCIMPrefix+"/")
}
