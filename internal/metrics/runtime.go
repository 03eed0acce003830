package metrics

import (
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
)

// runtimeCollector reports Vault's vault_runtime_* gauges, reading the
// memory statistics once per scrape.
type runtimeCollector struct {
	goroutines, alloc, sys, mallocs, frees, heapObjects, gcPause, gcRuns *prometheus.Desc
}

func newRuntimeCollector(name func(key string) (string, string)) *runtimeCollector {
	d := func(key, help string) *prometheus.Desc {
		n, _ := name("vault.runtime." + key)
		return prometheus.NewDesc(n, help, nil, nil)
	}
	return &runtimeCollector{
		goroutines:  d("num_goroutines", "Number of goroutines."),
		alloc:       d("alloc_bytes", "Bytes of allocated heap objects."),
		sys:         d("sys_bytes", "Bytes of memory obtained from the operating system."),
		mallocs:     d("malloc_count", "Cumulative count of heap objects allocated."),
		frees:       d("free_count", "Cumulative count of heap objects freed."),
		heapObjects: d("heap_objects", "Number of allocated heap objects."),
		gcPause:     d("total_gc_pause_ns", "Cumulative nanoseconds spent in garbage collection pauses."),
		gcRuns:      d("total_gc_runs", "Number of completed garbage collection cycles."),
	}
}

func (c *runtimeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.goroutines, c.alloc, c.sys, c.mallocs, c.frees, c.heapObjects, c.gcPause, c.gcRuns} {
		ch <- d
	}
}

func (c *runtimeCollector) Collect(ch chan<- prometheus.Metric) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	g := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	g(c.goroutines, float64(runtime.NumGoroutine()))
	g(c.alloc, float64(ms.Alloc))
	g(c.sys, float64(ms.Sys))
	g(c.mallocs, float64(ms.Mallocs))
	g(c.frees, float64(ms.Frees))
	g(c.heapObjects, float64(ms.HeapObjects))
	g(c.gcPause, float64(ms.PauseTotalNs))
	g(c.gcRuns, float64(ms.NumGC))
}
