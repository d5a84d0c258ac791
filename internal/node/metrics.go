package node

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/weftnet/weft/internal/control"
)

type metrics struct {
	reg                          *prometheus.Registry
	requests                     *prometheus.CounterVec
	latency                      *prometheus.HistogramVec
	bytesIn, bytesOut            prometheus.Counter
	stored, rejected, gc         prometheus.Counter
	storedBytes, symbols, shards prometheus.Gauge

	recoveryBytes     prometheus.Counter
	recovered         *prometheus.CounterVec
	recoveryFailures  prometheus.Counter
	liars             prometheus.Counter
	inconsistent      prometheus.Counter
	scrubbed, corrupt prometheus.Counter
	scrubPasses       prometheus.Counter
	attestations      prometheus.Counter
	invalidations     prometheus.Counter

	refused    *prometheus.CounterVec
	extensions prometheus.Counter

	syncBytes   prometheus.Counter
	syncSlivers *prometheus.CounterVec
	shardStates *prometheus.GaugeVec

	challengeAnswers *prometheus.CounterVec
	challengeWindows *prometheus.CounterVec
	challengeBuild   prometheus.Histogram
	challengeBytes   prometheus.Counter
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
	counter := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
		m.reg.MustRegister(c)
		return c
	}
	m.recoveryBytes = counter("weft_recovery_bytes_received_total", "Bytes received from peers for recovery: symbols, proofs and commitments.")
	m.recovered = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weft_slivers_recovered_total",
		Help: "Slivers rebuilt from peers' symbols, verified and stored, by type."}, []string{"type"})
	m.recovered.WithLabelValues("primary")
	m.recovered.WithLabelValues("secondary")
	m.reg.MustRegister(m.recovered)
	m.recoveryFailures = counter("weft_recovery_failures_total", "Tries at recovering a blob that ended incomplete (retried with back-off).")
	m.liars = counter("weft_recovery_lying_peers_total", "Times a peer was caught serving false symbols or commitments.")
	m.inconsistent = counter("weft_recovery_inconsistent_blobs_total", "Blobs found inconsistently encoded while recovering them.")
	m.scrubbed = counter("weft_scrub_slivers_checked_total", "Stored slivers re-verified against their commitments by the scrub.")
	m.corrupt = counter("weft_scrub_corrupt_slivers_total", "Slivers the scrub found missing, unreadable or not matching their commitment.")
	m.scrubPasses = counter("weft_scrub_passes_total", "Completed scrub passes over every stored blob.")
	m.attestations = counter("weft_inconsistency_attestations_total", "Inconsistency proofs checked and attested for peers.")
	m.invalidations = counter("weft_invalidations_submitted_total", "Blobs this node had marked invalid on the control plane.")
	m.refused = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weft_requests_refused_total",
		Help: "Requests and connections refused by a limit, by reason: connections, busy, too_large, duplicate, slow, disk_full."}, []string{"reason"})
	for _, r := range []string{"connections", "busy", "too_large", "duplicate", "slow", "disk_full"} {
		m.refused.WithLabelValues(r)
	}
	m.reg.MustRegister(m.refused)
	m.challengeAnswers = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weft_challenge_answers_total",
		Help: "Storage challenge answers, by result: accepted (passed), refused (the control plane refused it), unable (slivers missing)."}, []string{"result"})
	for _, r := range []string{"accepted", "refused", "unable"} {
		m.challengeAnswers.WithLabelValues(r)
	}
	m.reg.MustRegister(m.challengeAnswers)
	m.challengeWindows = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weft_challenge_windows_total",
		Help: "Closed challenge windows this node was challenged in, by its result: passed, failed or void."}, []string{"result"})
	for _, r := range []control.ChallengeResult{control.ChallengePassed, control.ChallengeFailed, control.ChallengeVoid} {
		m.challengeWindows.WithLabelValues(string(r))
	}
	m.reg.MustRegister(m.challengeWindows)
	m.challengeBuild = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "weft_challenge_answer_build_seconds",
		Help: "Time to build a challenge answer from stored slivers.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)})
	m.reg.MustRegister(m.challengeBuild)
	m.challengeBytes = counter("weft_challenge_answer_bytes_total", "Bytes of challenge answers built.")
	m.extensions = counter("weft_symbol_extensions_total", "Slivers extended to serve parity symbols or proofs to peers (cache misses).")
	m.syncBytes = counter("weft_shard_sync_bytes_received_total", "Bytes received from previous owners of gained shards (sync answers).")
	m.syncSlivers = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weft_shard_sync_slivers_total",
		Help: "Slivers of gained shards asked of their previous owners, by result: stored, verified_failed (handed to recovery), missing (not delivered: handed to recovery)."}, []string{"result"})
	for _, r := range []string{"stored", "verified_failed", "missing"} {
		m.syncSlivers.WithLabelValues(r)
	}
	m.shardStates = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "weft_shards", Help: "Shards this node holds, by state: ready, syncing, recovering, readOnly."}, []string{"state"})
	m.reg.MustRegister(m.syncSlivers, m.shardStates)
	m.reg.MustRegister(m.requests, m.latency, m.bytesIn, m.bytesOut, m.stored, m.rejected, m.gc, m.storedBytes, m.symbols, m.shards,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
