package propagate

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/canonid/canonid/store"
)

// Metrics are the dispatcher's Prometheus metrics:
//
//	canonid_propagation_writes_total{target}      changes delivered
//	canonid_propagation_failures_total{target}    attempts refused (before dead-lettering)
//	canonid_propagation_delay_seconds{target}     from commit to delivery, per outbox event
//	canonid_propagation_lag_events{target}        outbox events not yet delivered
//	canonid_propagation_dead_letters{target}      dead letters waiting
//	canonid_propagation_lease_held{target}        1 if this process delivers the target
type Metrics struct {
	writes, failures *prometheus.CounterVec
	delay            *prometheus.HistogramVec
}

// NewMetrics registers the counters and histogram on reg, and the gauges,
// read from st on each scrape, for the targets of d.
func NewMetrics(reg prometheus.Registerer, st store.Store, d *Dispatcher) *Metrics {
	m := &Metrics{
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "canonid_propagation_writes_total",
			Help: "Changes delivered to a downstream target."}, []string{"target"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "canonid_propagation_failures_total",
			Help: "Deliveries a target refused (each attempt)."}, []string{"target"}),
		delay: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "canonid_propagation_delay_seconds",
			Help:    "Time from an outbox event's commit to its delivery to a target.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}}, []string{"target"}),
	}
	reg.MustRegister(m.writes, m.failures, m.delay, &gauges{st: st, d: d})
	return m
}

func (m *Metrics) written(target string) { m.writes.WithLabelValues(target).Inc() }
func (m *Metrics) failed(target string)  { m.failures.WithLabelValues(target).Inc() }

func (m *Metrics) observeBatch(target string, evs []store.OutboxEvent, now time.Time) {
	h := m.delay.WithLabelValues(target)
	for _, ev := range evs {
		h.Observe(now.Sub(ev.At).Seconds())
	}
}

var (
	lagDesc   = prometheus.NewDesc("canonid_propagation_lag_events", "Outbox events not yet delivered to a target.", []string{"target"}, nil)
	deadDesc  = prometheus.NewDesc("canonid_propagation_dead_letters", "Dead letters of a target.", []string{"target"}, nil)
	leaseDesc = prometheus.NewDesc("canonid_propagation_lease_held", "1 when this process delivers the target.", []string{"target"}, nil)
)

// gauges reads the lag and dead letters from the store at scrape time.
type gauges struct {
	st store.Store
	d  *Dispatcher
}

func (g *gauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- lagDesc
	ch <- deadDesc
	ch <- leaseDesc
}

func (g *gauges) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	status, err := Status(ctx, g.st, g.d.Targets())
	if err != nil {
		return
	}
	for _, s := range status {
		ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, float64(s.Lag), s.Name)
		ch <- prometheus.MustNewConstMetric(deadDesc, prometheus.GaugeValue, float64(s.DeadLetters), s.Name)
		held := 0.0
		if s.LeaseOwner == g.d.opts.Owner && s.LeaseUntil.After(time.Now()) {
			held = 1
		}
		ch <- prometheus.MustNewConstMetric(leaseDesc, prometheus.GaugeValue, held, s.Name)
	}
}
