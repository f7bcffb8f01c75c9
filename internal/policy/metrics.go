package policy

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the policy service's Prometheus metrics. Every label has a
// fixed, small set of values.
type Metrics struct {
	requests      *prometheus.CounterVec // stage, action
	reqByLabel    [4][numActions]prometheus.Counter
	ruleHits      *prometheus.CounterVec // rule
	ruleByName    map[string]prometheus.Counter
	malformed     *prometheus.CounterVec // reason
	duration      prometheus.Histogram
	connections   prometheus.Gauge
	connRefused   prometheus.Counter
	panics        prometheus.Counter
	redisErrors   *prometheus.CounterVec // op
	redisUp       prometheus.Gauge
	blocked       prometheus.Gauge
	loginsTracked prometheus.Gauge
	newBlocks     prometheus.Counter
	eventsDropped prometheus.Counter
	storeErrors   prometheus.Counter
	failOpen      prometheus.Counter
}

// Label values.
var (
	stageLabels     = []string{"RCPT", "DATA", "END-OF-MESSAGE", "other"}
	malformedLabels = []string{"line_too_long", "too_many_attributes", "too_large", "syntax", "truncated", "timeout"}
	redisOpLabels   = []string{"counters", "blocks_read", "blocks_write"}
)

// NewMetrics registers the metrics with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "saslguard_policy_requests_total", Help: "Policy requests answered, by protocol state and action.",
		}, []string{"stage", "action"}),
		ruleHits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "saslguard_policy_rule_hits_total", Help: "Requests over a rule's limit, by rule.",
		}, []string{"rule"}),
		malformed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "saslguard_policy_malformed_requests_total", Help: "Requests refused as malformed, by reason.",
		}, []string{"reason"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "saslguard_policy_request_duration_seconds", Help: "Time from a request's end to its answer.",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .05, .25, 1},
		}),
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "saslguard_policy_connections", Help: "Open client connections.",
		}),
		connRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "saslguard_policy_connections_refused_total", Help: "Connections closed at once because max_connections was reached.",
		}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "saslguard_policy_panics_total", Help: "Panics recovered while serving a connection.",
		}),
		redisErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "saslguard_policy_redis_errors_total", Help: "Failed Redis operations, by operation.",
		}, []string{"op"}),
		redisUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "saslguard_policy_redis_up", Help: "1 if the last Redis operation succeeded.",
		}),
		blocked: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "saslguard_policy_blocked_logins", Help: "Logins currently blocked.",
		}),
		loginsTracked: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "saslguard_policy_tracked_logins", Help: "Logins with counters in this process's memory.",
		}),
		newBlocks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "saslguard_policy_blocks_total", Help: "Logins blocked by a compromised rule.",
		}),
		eventsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "saslguard_policy_block_events_dropped_total", Help: "Block events not persisted at once because the queue was full.",
		}),
		failOpen: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "saslguard_policy_fail_open_total", Help: "Requests answered DUNNO unchecked because the shared counters were unavailable.",
		}),
		storeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "saslguard_policy_store_errors_total", Help: "Failed incident store operations.",
		}),
	}
	for i, s := range stageLabels {
		for j, a := range actionNames {
			m.reqByLabel[i][j] = m.requests.WithLabelValues(s, a)
		}
	}
	m.ruleByName = make(map[string]prometheus.Counter, len(ruleNames))
	for _, r := range ruleNames {
		m.ruleByName[r] = m.ruleHits.WithLabelValues(r)
	}
	for _, r := range malformedLabels {
		m.malformed.WithLabelValues(r)
	}
	for _, o := range redisOpLabels {
		m.redisErrors.WithLabelValues(o)
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.ruleHits, m.malformed, m.duration, m.connections, m.connRefused,
			m.panics, m.redisErrors, m.redisUp, m.blocked, m.loginsTracked, m.newBlocks, m.eventsDropped, m.storeErrors, m.failOpen)
	}
	return m
}

// request returns the request counter for a protocol state and action
// without a label lookup.
func (m *Metrics) request(state string, a Action) prometheus.Counter {
	i := 3
	switch state {
	case "RCPT":
		i = 0
	case "DATA":
		i = 1
	case "END-OF-MESSAGE":
		i = 2
	}
	return m.reqByLabel[i][min(a, numActions-1)]
}

// ruleHit returns the hit counter of a rule, looked up once at start (a
// rule over its limit is hit by every request of an attack).
func (m *Metrics) ruleHit(name string) prometheus.Counter {
	if c, ok := m.ruleByName[name]; ok {
		return c
	}
	return m.ruleHits.WithLabelValues(name)
}
