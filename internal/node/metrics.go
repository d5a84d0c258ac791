package node

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	reg                          *prometheus.Registry
	requests                     *prometheus.CounterVec
	latency                      *prometheus.HistogramVec
	bytesIn, bytesOut            prometheus.Counter
	stored, rejected, gc         prometheus.Counter
	storedBytes, symbols, shards prometheus.Gauge
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weft_node_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "weft_node_request_seconds", Help: "HTTP request latency by route.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"route"}),
		bytesIn:     prometheus.NewCounter(prometheus.CounterOpts{Name: "weft_node_bytes_in_total", Help: "Request body bytes received."}),
		bytesOut:    prometheus.NewCounter(prometheus.CounterOpts{Name: "weft_node_bytes_out_total", Help: "Response bytes sent."}),
		stored:      prometheus.NewCounter(prometheus.CounterOpts{Name: "weft_node_slivers_stored_total", Help: "Slivers verified and stored."}),
		rejected:    prometheus.NewCounter(prometheus.CounterOpts{Name: "weft_node_slivers_rejected_total", Help: "Slivers that failed verification."}),
		gc:          prometheus.NewCounter(prometheus.CounterOpts{Name: "weft_node_blobs_collected_total", Help: "Expired, deleted or invalid blobs dropped."}),
		storedBytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "weft_node_stored_sliver_bytes", Help: "Sliver bytes stored since start."}),
		symbols:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "weft_node_symbols_served", Help: "Recovery symbols served since start."}),
		shards:      prometheus.NewGauge(prometheus.GaugeOpts{Name: "weft_node_shards", Help: "Shards held in the current epoch."}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.bytesIn, m.bytesOut, m.stored, m.rejected, m.gc, m.storedBytes, m.symbols, m.shards,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}
