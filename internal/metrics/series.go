package metrics

import (
	"math"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

type dtoFamily = dto.MetricFamily

// counterDef is a counter vector and its JSON name.
type counterDef struct {
	vec    *prometheus.CounterVec
	name   string
	labels []string
}

// sampleDef is a summary vector (values in milliseconds) and its JSON name.
type sampleDef struct {
	vec    *prometheus.SummaryVec
	name   string
	labels []string
}

// Vault's Prometheus sink reports these quantiles over a 10-second window.
var objectives = map[float64]float64{0.5: 0.05, 0.9: 0.01, 0.99: 0.001}

func (m *Metrics) counter(key, help string, labels ...string) *counterDef {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: promName(key), Help: help}, labels)
	m.regr.MustRegister(vec)
	if len(labels) == 0 {
		// Shown as 0 before the first increment, as Vault does.
		vec.WithLabelValues()
	}
	return &counterDef{vec: vec, name: key, labels: labels}
}

func (m *Metrics) sample(key, help string, labels ...string) *sampleDef {
	vec := prometheus.NewSummaryVec(prometheus.SummaryOpts{
		Name: promName(key), Help: help, Objectives: objectives, MaxAge: 10 * time.Second,
	}, labels)
	m.regr.MustRegister(vec)
	return &sampleDef{vec: vec, name: key, labels: labels}
}

// series is the running aggregate of one labelled counter or sample, kept
// for the JSON form and for expiry.
type series struct {
	name   string
	kind   string // "counter" or "sample"
	labels []string
	values []string
	delete func(values ...string) bool

	count      int64
	sum, sumSq float64
	min, max   float64
	first      time.Time
	last       time.Time
}

func (s *series) add(v float64, now time.Time) {
	if s.count == 0 || v < s.min {
		s.min = v
	}
	if s.count == 0 || v > s.max {
		s.max = v
	}
	s.count++
	s.sum += v
	s.sumSq += v * v
	s.last = now
}

func seriesKey(name string, values []string) string {
	if len(values) == 0 {
		return name
	}
	return name + "\x00" + strings.Join(values, "\x00")
}

// track records v in the series of name and label values; the caller holds mu.
func (m *Metrics) track(name, kind string, labels, values []string, del func(...string) bool, v float64) {
	now := m.now()
	k := seriesKey(name, values)
	s := m.series[k]
	if s == nil {
		s = &series{name: name, kind: kind, labels: labels, values: append([]string(nil), values...), delete: del, first: now}
		m.series[k] = s
	}
	s.add(v, now)
}

// inc adds v to a counter.
func (m *Metrics) inc(c *counterDef, v float64, values ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c.vec.WithLabelValues(values...).Add(v)
	m.track(c.name, "counter", c.labels, values, c.vec.DeleteLabelValues, v)
}

// observe records a duration, in milliseconds as Vault reports them.
func (m *Metrics) observe(s *sampleDef, d time.Duration, values ...string) {
	ms := float64(d) / float64(time.Millisecond)
	m.mu.Lock()
	defer m.mu.Unlock()
	s.vec.WithLabelValues(values...).Observe(ms)
	m.track(s.name, "sample", s.labels, values, s.vec.DeleteLabelValues, ms)
}

// JSON returns the metrics in the shape of Vault's sys/metrics JSON:
// Timestamp, Gauges (Name, Value, Labels), Points (always empty), Counters
// and Samples (Name, Count, Rate, Sum, Min, Max, Mean, Stddev, Labels).
// Counters and samples accumulate since the server started; Rate is per
// second over that time. Names are dotted, as Vault shows them.
func (m *Metrics) JSON() (map[string]interface{}, error) {
	families, err := m.gather()
	if err != nil {
		return nil, err
	}
	now := m.now()
	gauges := []interface{}{}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, mf := range families {
		if mf.GetType() != dto.MetricType_GAUGE {
			continue
		}
		name := m.jsonNames[mf.GetName()]
		if name == "" {
			name = mf.GetName()
		}
		for _, x := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range x.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			gauges = append(gauges, map[string]interface{}{
				"Name": name, "Value": x.GetGauge().GetValue(), "Labels": labels,
			})
		}
	}
	counters, samples := []interface{}{}, []interface{}{}
	keys := make([]string, 0, len(m.series))
	for k := range m.series {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s := m.series[k]
		v := m.seriesJSON(s, now)
		if s.kind == "counter" {
			counters = append(counters, v)
		} else {
			samples = append(samples, v)
		}
	}
	return map[string]interface{}{
		"Timestamp": now.Round(time.Second).UTC().String(),
		"Gauges":    gauges,
		"Points":    []interface{}{},
		"Counters":  counters,
		"Samples":   samples,
	}, nil
}

func (m *Metrics) seriesJSON(s *series, now time.Time) map[string]interface{} {
	labels := map[string]string{}
	if m.cluster != "" {
		labels["cluster"] = m.cluster
	}
	for i, l := range s.labels {
		labels[l] = s.values[i]
	}
	mean := s.sum / float64(s.count)
	stddev := 0.0
	if s.count > 1 {
		variance := (s.sumSq - float64(s.count)*mean*mean) / float64(s.count-1)
		stddev = math.Sqrt(math.Max(variance, 0))
	}
	rate := s.sum
	if secs := now.Sub(s.first).Seconds(); secs > 1 {
		rate = s.sum / secs
	}
	return map[string]interface{}{
		"Name": s.name, "Count": s.count, "Rate": rate, "Sum": s.sum,
		"Min": s.min, "Max": s.max, "Mean": mean, "Stddev": stddev, "Labels": labels,
	}
}
