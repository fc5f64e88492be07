package server

import (
	"net/http"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/network"
)

func (s *Server) registerUnitRoutes() {
	s.mux.HandleFunc("GET /api/v1/units", s.handleUnitList)
}

// handleUnitList answers the network: its units, and the committee areas
// as GeoJSON for the form's map.
func (s *Server) handleUnitList(w http.ResponseWriter, r *http.Request) {
	n := s.Directory.Network()
	units := n.Units
	if units == nil {
		units = []hotline.Unit{}
	}
	writeJSON(w, http.StatusOK, struct {
		Units []hotline.Unit            `json:"units"`
		Areas network.FeatureCollection `json:"areas"`
	}{units, network.AreasGeoJSON(n)})
}
