package server

import (
	"context"
	"net/http"
	"time"

	"github.com/caojiadu/hotline"
)

// readyTimeout bounds the store ping of /readyz: a load balancer probing
// every few seconds wants a quick no rather than a hung probe.
const readyTimeout = 2 * time.Second

func (s *Server) registerHealthRoutes() {
	s.mux.HandleFunc("GET /healthz", s.handleHealthz)
	s.mux.HandleFunc("GET /readyz", s.handleReadyz)
	s.mux.Handle("GET /metrics", s.handleMetrics())
}

// handleHealthz answers while the process can serve at all; it checks
// nothing else, so a store outage never gets the process restarted.
func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// handleReadyz answers 200 only when the store does, so that traffic goes
// to replicas that can save what residents send.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	if s.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := s.Ready(ctx); err != nil {
			if c := hotline.ErrorCode(err); c != hotline.EUNAVAILABLE {
				err = hotline.Unavailable(err)
			}
			Error(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
