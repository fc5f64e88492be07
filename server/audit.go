package server

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/caojiadu/hotline"
)

// Every list and view of a ticket shows the resident's phone, address and
// e-mail masked (staffView) and its recording only as "there is one". The
// details in full come from one door, GET /api/v1/tickets/{id}/contact,
// and every answer it gives is recorded first in the audit log, which
// administrators read at GET /api/v1/audit and on /audit.
//
// The entry is written before the answer, in the request: a disclosure
// that cannot be recorded is refused (503), never made unrecorded. It costs
// one MULTI round trip to Redis on a deliberate click, not on every list;
// a queue in memory would lose what it held when the replica is killed,
// and dropping entries under load would break "every read is recorded".

// contactRoute is the one door to a resident's details in full.
const contactRoute = "GET /api/v1/tickets/{id}/contact"

func (s *Server) registerAuditRoutes() {
	s.mux.Handle("GET /audit", s.handlePage("audit.html"))
	s.mux.HandleFunc("GET /api/v1/audit", s.handleAuditList)
	s.mux.HandleFunc(contactRoute, s.handleTicketContact)
}

// contactView is a ticket's personal details in full.
type contactView struct {
	TicketID  string `json:"ticket_id"`
	Phone     string `json:"phone"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Email     string `json:"email"`
	Consent   bool   `json:"consent"`
	Address   string `json:"address"`
	MediaURL  string `json:"media_url"`
	// AuditID is the audit entry that records this answer; empty when
	// the ticket holds nothing personal (nothing was disclosed).
	AuditID string `json:"audit_id,omitempty"`
}

// disclosed lists what of t a full view shows that a masked one hides.
func disclosed(t *hotline.Ticket) []string {
	var fields []string
	if t.Contact.Phone != "" {
		fields = append(fields, hotline.AuditPhone)
	}
	if t.Location.Address != "" {
		fields = append(fields, hotline.AuditAddress)
	}
	if t.Contact.Email != "" {
		fields = append(fields, hotline.AuditEmail)
	}
	if t.MediaURL != "" {
		fields = append(fields, hotline.AuditRecording)
	}
	return fields
}

// handleTicketContact answers the resident's details of a ticket the user
// sees (a volunteer: only while their task on it is accepted), after
// recording the disclosure.
func (s *Server) handleTicketContact(w http.ResponseWriter, r *http.Request) {
	u, _ := requireUser(w, r)
	if u == nil {
		return
	}
	var t *hotline.Ticket
	var err error
	if u.Role == hotline.RoleVolunteer {
		var details bool
		t, details, err = s.volunteerTicket(r.Context(), u, r.PathValue("id"))
		if err == nil && !details {
			err = hotline.Errorf(hotline.EFORBIDDEN, "the resident's details are yours only while your task on this ticket is accepted")
		}
	} else if t, err = s.findTicket(r.Context(), r.PathValue("id")); err == nil && !u.CanSeeTicket(s.Directory.Network(), t) {
		err = notFound()
	}
	if err != nil {
		Error(w, r, err)
		return
	}
	v := contactView{TicketID: t.ID, Phone: t.Contact.Phone, FirstName: t.Contact.FirstName,
		LastName: t.Contact.LastName, Email: t.Contact.Email, Consent: t.Contact.Consent,
		Address: t.Location.Address, MediaURL: t.MediaURL}
	if fields := disclosed(t); len(fields) > 0 {
		e := &hotline.AuditEntry{TicketID: t.ID, Fields: fields, Via: contactRoute}
		if err := s.recordRead(r.Context(), u, e); err != nil {
			Error(w, r, err)
			return
		}
		v.AuditID = e.ID
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, v)
}

// recordRead fills in the reader and appends e to the audit log. Without
// a log the disclosure is refused: nothing is shown unrecorded.
func (s *Server) recordRead(ctx context.Context, u *hotline.User, e *hotline.AuditEntry) error {
	if s.Audit == nil {
		return hotline.Errorf(hotline.EUNAVAILABLE, "the audit log is not available, so personal details cannot be shown")
	}
	e.UserID, e.Username, e.Role, e.UnitID = u.ID, u.Username, u.Role, u.UnitID
	return s.Audit.RecordRead(ctx, e)
}

// handleAuditList answers the audit log to administrators:
// ?ticket=&user=&from=&to=&limit= (user is a username or a user id; dates
// as the ticket list reads them). Without ticket or user the period is at
// most a year, the last 30 days by default.
func (s *Server) handleAuditList(w http.ResponseWriter, r *http.Request) {
	u, _ := requireUser(w, r)
	if u == nil {
		return
	}
	if u.Role != hotline.RoleAdmin {
		Error(w, r, hotline.Errorf(hotline.EFORBIDDEN, "only administrators read the audit log"))
		return
	}
	if s.Audit == nil {
		Error(w, r, hotline.Errorf(hotline.EUNAVAILABLE, "the audit log is not available"))
		return
	}
	q := r.URL.Query()
	fe := hotline.FieldErrors{}
	f := hotline.AuditFilter{
		TicketID: strings.TrimSpace(q.Get("ticket")),
		From:     parseTime(q.Get("from"), false, "from", fe),
		To:       parseTime(q.Get("to"), true, "to", fe),
	}
	if f.TicketID != "" && !hotline.ValidTicketID(f.TicketID) {
		fe.Add("ticket", "not a ticket number; check the digits")
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxListLimit {
			fe.Add("limit", "must be a whole number from 1 to 1000")
		}
		f.Limit = n
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		fe.Add("from", "must be before to")
	}
	who := strings.TrimSpace(q.Get("user"))
	if len(who) > 128 {
		fe.Add("user", "a username or a user id, at most 128 characters")
	}
	if err := fe.Err(); err != nil {
		Error(w, r, err)
		return
	}
	if who != "" {
		// Administrators know people by their usernames; ids work too.
		f.UserID = who
		if s.Users != nil {
			found, err := s.Users.FindUserByUsername(r.Context(), strings.ToLower(who))
			if err == nil {
				f.UserID = found.ID
			} else if hotline.ErrorCode(err) != hotline.ENOTFOUND {
				Error(w, r, err)
				return
			}
		}
	}
	entries, more, err := s.Audit.FindReads(r.Context(), f)
	if err != nil {
		Error(w, r, err)
		return
	}
	if entries == nil {
		entries = []*hotline.AuditEntry{}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, struct {
		Entries []*hotline.AuditEntry `json:"entries"`
		More    bool                  `json:"more"`
	}{entries, more})
}
