package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/dispatch"
)

// registerDispatchRoutes adds the dispatchers' actions on a ticket and the
// three rates. Each action is POST /api/v1/tickets/{id}/<action> with a
// small JSON body and answers {"ticket": StaffTicket}; permissions and
// status rules are dispatch's, so every client gets the same ones.
func (s *Server) registerDispatchRoutes() {
	for name, a := range ticketActions {
		s.mux.HandleFunc("POST /api/v1/tickets/{id}/"+name, s.handleTicketAction(a))
	}
	s.mux.HandleFunc("GET /api/v1/stats", s.handleStats)
}

// actionBody holds every member an action body may carry; each action
// reads its own.
type actionBody struct {
	Reason      string `json:"reason"`
	Text        string `json:"text"`
	UnitID      string `json:"unit_id"`
	Note        string `json:"note"`
	DuplicateID string `json:"duplicate_id"`
	Score       int    `json:"score"`
	Comment     string `json:"comment"`
}

type ticketAction func(ctx context.Context, d *dispatch.Service, u *hotline.User, id string, b actionBody) (*hotline.Ticket, error)

// ticketActions maps the path's last segment to the dispatch call.
// Accept and start take no body; an empty body is fine for them.
var ticketActions = map[string]ticketAction{
	"accept": func(ctx context.Context, d *dispatch.Service, u *hotline.User, id string, _ actionBody) (*hotline.Ticket, error) {
		return d.Accept(ctx, u, id)
	},
	"start": func(ctx context.Context, d *dispatch.Service, u *hotline.User, id string, _ actionBody) (*hotline.Ticket, error) {
		return d.Start(ctx, u, id)
	},
	"decline": func(ctx context.Context, d *dispatch.Service, u *hotline.User, id string, b actionBody) (*hotline.Ticket, error) {
		return d.Decline(ctx, u, id, b.Reason)
	},
	"reassign": func(ctx context.Context, d *dispatch.Service, u *hotline.User, id string, b actionBody) (*hotline.Ticket, error) {
		return d.Reassign(ctx, u, id, b.UnitID, b.Note)
	},
	"note": func(ctx context.Context, d *dispatch.Service, u *hotline.User, id string, b actionBody) (*hotline.Ticket, error) {
		return d.Note(ctx, u, id, b.Text)
	},
	"resolve": func(ctx context.Context, d *dispatch.Service, u *hotline.User, id string, b actionBody) (*hotline.Ticket, error) {
		return d.Resolve(ctx, u, id, b.Text)
	},
	"reopen": func(ctx context.Context, d *dispatch.Service, u *hotline.User, id string, b actionBody) (*hotline.Ticket, error) {
		return d.Reopen(ctx, u, id, b.Reason)
	},
	"cancel": func(ctx context.Context, d *dispatch.Service, u *hotline.User, id string, b actionBody) (*hotline.Ticket, error) {
		return d.Cancel(ctx, u, id, b.Reason)
	},
	"merge": func(ctx context.Context, d *dispatch.Service, u *hotline.User, id string, b actionBody) (*hotline.Ticket, error) {
		return d.Merge(ctx, u, id, b.DuplicateID)
	},
	// ask texts the resident a question; their reply comes back as a note.
	"ask": func(ctx context.Context, d *dispatch.Service, u *hotline.User, id string, b actionBody) (*hotline.Ticket, error) {
		return d.Ask(ctx, u, id, b.Text)
	},
	// rating records the resident's rating taken by staff on a callback.
	"rating": func(ctx context.Context, d *dispatch.Service, u *hotline.User, id string, b actionBody) (*hotline.Ticket, error) {
		return d.RecordRating(ctx, u, id, b.Score, b.Comment)
	},
}

func (s *Server) handleTicketAction(a ticketAction) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, _ := requireUser(w, r)
		if u == nil {
			return
		}
		if s.Dispatch == nil {
			Error(w, r, hotline.Internal(errors.New("server: no dispatch service")))
			return
		}
		if u.Role == hotline.RoleVolunteer {
			// Volunteers act on no ticket here. Dispatch would tell a
			// ticket their group holds (403) from one that does not
			// exist (404); a volunteer sees only their tasks, so any
			// other ticket answers as GET does: not found.
			if _, _, err := s.volunteerTicket(r.Context(), u, r.PathValue("id")); err != nil {
				Error(w, r, err)
				return
			}
			Error(w, r, hotline.Errorf(hotline.EFORBIDDEN, "volunteers cannot change tickets here; ask your group's lead"))
			return
		}
		var b actionBody
		if r.ContentLength != 0 {
			if err := decodeJSON(r, &b); err != nil {
				Error(w, r, err)
				return
			}
		}
		t, err := a(r.Context(), s.Dispatch, u, r.PathValue("id"), b)
		if err != nil {
			Error(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, struct {
			Ticket *staffTicket `json:"ticket"`
		}{s.staffView(t)})
	}
}
