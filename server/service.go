package server

import (
	"net/http"

	"github.com/caojiadu/hotline"
)

func (s *Server) registerServiceRoutes() {
	s.mux.HandleFunc("GET /api/v1/services", s.handleServiceList)
}

// handleServiceList answers the catalogue the form offers.
func (s *Server) handleServiceList(w http.ResponseWriter, r *http.Request) {
	services := s.Directory.Catalogue().Categories
	if services == nil {
		services = []hotline.Category{}
	}
	writeJSON(w, http.StatusOK, struct {
		Services []hotline.Category `json:"services"`
	}{services})
}
