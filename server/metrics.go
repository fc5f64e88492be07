package server

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/caojiadu/hotline"
)

// metrics are the server's Prometheus series.
type metrics struct {
	registry *prometheus.Registry
	duration *prometheus.HistogramVec
	created  *prometheus.CounterVec
}

// newMetrics registers the series on reg, or on a new registry with the Go
// and process collectors when reg is nil. A series some other Server
// already registered on a shared registry is reused, not a panic.
func newMetrics(reg *prometheus.Registry, log *slog.Logger) *metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	m := &metrics{registry: reg}
	m.duration = register(reg, log, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "hotline_http_request_duration_seconds",
		Help: "Time to answer HTTP requests, by route pattern, method and status code.",
		// From a cached page (~1 ms) to a slow store (seconds); the
		// default buckets stop at 10 s and start too coarse at 5 ms.
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"route", "method", "code"}))
	m.created = register(reg, log, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hotline_tickets_created_total",
		Help: "Tickets created, by the channel they came in through.",
	}, []string{"channel"}))
	// Every channel shows from the start, so rate() works on the first
	// ticket instead of after the series appears.
	for _, c := range []hotline.Channel{hotline.ChannelVoice, hotline.ChannelSMS,
		hotline.ChannelWeb, hotline.ChannelOpen311, hotline.ChannelWalkIn} {
		m.created.WithLabelValues(string(c))
	}
	return m
}

func register[C prometheus.Collector](reg *prometheus.Registry, log *slog.Logger, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		log.Error("metric not registered", "err", err)
	}
	return c
}

func (m *metrics) observe(route, method string, code int, d time.Duration) {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
	default:
		method = "other" // methods are client-chosen strings
	}
	m.duration.WithLabelValues(route, method, strconv.Itoa(code)).Observe(d.Seconds())
}

// TicketCreated counts a ticket that was just created, under its channel.
// Wire it as intake's hook (in.OnCreated = srv.TicketCreated, as cmd does):
// the hook fires once per stored ticket and never for a retry, for every
// channel that files through that Intake (web form, walk-in, Open311,
// calls, messages). The server does not count on its own, so nothing is
// counted twice.
func (s *Server) TicketCreated(t *hotline.Ticket) {
	s.init()
	if t == nil {
		return
	}
	ch := string(t.Channel)
	if !t.Channel.Valid() {
		ch = "other"
	}
	s.metrics.created.WithLabelValues(ch).Inc()
}

func (s *Server) handleMetrics() http.Handler {
	return promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(s.Logger.Handler(), slog.LevelWarn)})
}
