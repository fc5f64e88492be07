package server

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/caojiadu/hotline"
)

// defaultStatsPeriod is the period of GET /api/v1/stats without from.
const defaultStatsPeriod = 30 * 24 * time.Hour

// handleStats answers the three rates (dispatch.Stats) for
// ?from=&to= (dates or RFC 3339 times, as the ticket list reads them;
// default the last 30 days) and ?unit= (that unit and those below it).
// Staff see the figures of their own unit and below; without unit= they
// get exactly that, admins the whole network. Volunteers see none.
func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) {
	u, _ := requireUser(w, r)
	if u == nil {
		return
	}
	if s.Dispatch == nil {
		Error(w, r, hotline.Internal(errors.New("server: no dispatch service")))
		return
	}
	if u.Role == hotline.RoleVolunteer {
		Error(w, r, hotline.Errorf(hotline.EFORBIDDEN, "volunteers have no access to the figures"))
		return
	}
	q := r.URL.Query()
	fe := hotline.FieldErrors{}
	from := parseTime(q.Get("from"), false, "from", fe)
	to := parseTime(q.Get("to"), true, "to", fe)
	if err := fe.Err(); err != nil {
		Error(w, r, err)
		return
	}
	if to.IsZero() {
		to = time.Now().UTC()
	}
	if from.IsZero() {
		from = to.Add(-defaultStatsPeriod)
	}
	if !from.Before(to) {
		Error(w, r, fieldError("from", "must be before to"))
		return
	}

	unit := strings.TrimSpace(q.Get("unit"))
	n := s.Directory.Network()
	if unit != "" {
		if _, ok := n.Unit(unit); !ok {
			Error(w, r, fieldError("unit", "no such unit"))
			return
		}
	}
	if u.Role != hotline.RoleAdmin {
		switch {
		case u.UnitID == "":
			Error(w, r, hotline.Errorf(hotline.EFORBIDDEN, "your account belongs to no unit"))
			return
		case unit == "":
			unit = u.UnitID
		case !n.Within(unit, u.UnitID):
			Error(w, r, hotline.Errorf(hotline.EFORBIDDEN, "you can see the figures of your unit and the units under it"))
			return
		}
	}
	st, err := s.Dispatch.Stats(r.Context(), from, to, unit)
	if err != nil {
		Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}
