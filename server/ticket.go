package server

import (
	"cmp"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/intake"
)

func (s *Server) registerTicketRoutes() {
	s.mux.HandleFunc("POST /api/v1/tickets", s.handleTicketCreate)
	s.mux.HandleFunc("GET /api/v1/tickets/{id}/status", s.handleTicketStatus)
	s.mux.HandleFunc("GET /api/v1/tickets", s.handleTicketList)
	s.mux.HandleFunc("GET /api/v1/tickets/{id}", s.handleTicketView)
}

// notFound is the one answer for an unknown ticket, a ticket the caller
// may not see and a status lookup with the wrong digits: telling them
// apart would let ids be probed.
func notFound() error { return hotline.Errorf(hotline.ENOTFOUND, "no such ticket") }

// findTicket loads the ticket of a path's id, answering every miss (a
// mistyped id, an unknown one) with the one notFound.
func (s *Server) findTicket(ctx context.Context, id string) (*hotline.Ticket, error) {
	if !hotline.ValidTicketID(id) {
		return nil, notFound()
	}
	t, err := s.Tickets.FindTicket(ctx, id)
	if hotline.ErrorCode(err) == hotline.ENOTFOUND {
		return nil, notFound()
	}
	return t, err
}

// handleTicketCreate files a need from the web form, or, with a staff
// session, one taken down by hand at the desk or on the phone.
func (s *Server) handleTicketCreate(w http.ResponseWriter, r *http.Request) {
	u, _, err := currentUser(r)
	if err != nil {
		Error(w, r, err)
		return
	}
	if u == nil {
		// Staff at the desk share the service center's address with the
		// residents they serve; only anonymous callers are limited.
		if err := s.limitPublic(r, s.Config.PublicRatePerMinute); err != nil {
			Error(w, r, err)
			return
		}
	}
	m, err := readJSONObject(r)
	if err != nil {
		Error(w, r, err)
		return
	}
	fe := hotline.FieldErrors{}
	sub := intake.Submission{
		Channel:     hotline.ChannelWeb,
		ServiceCode: stringField(m, "service_code", fe),
		Description: stringField(m, "description", fe),
		Lat:         floatField(m, "lat", fe),
		Long:        floatField(m, "long", fe),
		Address:     stringField(m, "address_string", fe),
		Phone:       stringField(m, "phone", fe),
		FirstName:   stringField(m, "first_name", fe),
		LastName:    stringField(m, "last_name", fe),
		Email:       stringField(m, "email", fe),
		Consent:     boolField(m, "consent", fe),
		Language:    stringField(m, "language", fe),
		Actor:       "resident",
	}
	// Anonymous callers are always the web form, whatever they claim; a
	// signed-in member of staff may record how the resident reached them.
	if u != nil {
		sub.Actor = u.ID
		switch ch := hotline.Channel(strings.TrimSpace(stringField(m, "channel", fe))); ch {
		case "", hotline.ChannelWeb:
		case hotline.ChannelWalkIn, hotline.ChannelVoice:
			sub.Channel = ch
		default:
			fe.Add("channel", "staff may set channel to walk-in or voice (or leave it out for web)")
		}
	}
	if err := fe.Err(); err != nil {
		Error(w, r, err)
		return
	}
	if s.Intake == nil {
		Error(w, r, hotline.Internal(errors.New("server: no intake service")))
		return
	}
	t, created, err := s.Intake.Submit(r.Context(), sub, r.Header.Get("Idempotency-Key"))
	if err != nil {
		Error(w, r, err)
		return
	}
	view, err := s.residentView(r.Context(), t, true)
	if err != nil {
		Error(w, r, err)
		return
	}
	status := http.StatusOK // an idempotent retry: the same answer, nothing new stored
	if created {
		status = http.StatusCreated
	}
	if created && s.Logger.Enabled(context.Background(), slog.LevelInfo) {
		s.Logger.Info("ticket created", "ticket_id", t.ID, "channel", t.Channel,
			"service_code", t.ServiceCode, "unit_id", t.UnitID)
	}
	w.Header().Set("Location", "/api/v1/tickets/"+t.ID+"/status")
	writeJSON(w, status, view)
}

// handleTicketStatus is the resident's status page: the ticket's id and,
// when the ticket has a phone, the last four digits of it.
func (s *Server) handleTicketStatus(w http.ResponseWriter, r *http.Request) {
	if err := s.limitPublic(r, s.Config.PublicRatePerMinute); err != nil {
		Error(w, r, err)
		return
	}
	t, err := s.findTicket(r.Context(), r.PathValue("id"))
	if err != nil {
		Error(w, r, err)
		return
	}
	full := false
	if t.Contact.Phone != "" {
		last4 := r.URL.Query().Get("phone_last4")
		digits := phoneDigits(t.Contact.Phone)
		if len(last4) != 4 || len(digits) < 4 ||
			subtle.ConstantTimeCompare([]byte(last4), []byte(digits[len(digits)-4:])) != 1 {
			Error(w, r, notFound())
			return
		}
		full = true
	}
	view, err := s.residentView(r.Context(), t, full)
	if err != nil {
		Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, view)
}

func phoneDigits(p string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, p)
}

// residentView is the resident's view of a ticket (docs/API.md).
type residentView struct {
	ID              string          `json:"id"`
	Status          hotline.Status  `json:"status"`
	ServiceCode     string          `json:"service_code"`
	ServiceNameZH   string          `json:"service_name_zh"`
	ServiceNameEN   string          `json:"service_name_en"`
	Description     string          `json:"description"`
	Address         string          `json:"address"`
	Committee       string          `json:"committee"`
	CommitteeNameZH string          `json:"committee_name_zh"`
	CommitteeNameEN string          `json:"committee_name_en"`
	UnitID          string          `json:"unit_id"`
	UnitNameZH      string          `json:"unit_name_zh"`
	UnitNameEN      string          `json:"unit_name_en"`
	CreatedAt       time.Time       `json:"created_at"`
	UpdatedAt       time.Time       `json:"updated_at"`
	PhoneMasked     string          `json:"phone_masked,omitempty"`
	History         []residentEntry `json:"history"`
}

type residentEntry struct {
	Type   string         `json:"type"`
	Status hotline.Status `json:"status,omitempty"`
	At     time.Time      `json:"at"`
	Note   string         `json:"note"`
}

// residentView builds the view. full is for someone who showed they know
// the ticket: its creator, or whoever knows the phone's last digits. A
// ticket without a phone can be looked up with its id alone, and ids are
// short and sequential, so then the view is what Open311 shows anyone: no
// description or address for a sensitive category, and no staff notes.
func (s *Server) residentView(ctx context.Context, t *hotline.Ticket, full bool) (*residentView, error) {
	n, cat := s.Directory.Network(), s.Directory.Catalogue()
	c, _ := cat.Find(t.ServiceCode)
	shown := t
	if !full {
		shown = hotline.PublicTicket(t, c)
	}
	v := &residentView{
		ID: t.ID, Status: t.Status, ServiceCode: t.ServiceCode,
		ServiceNameZH: c.NameZH, ServiceNameEN: c.NameEN,
		Description: shown.Description, Address: shown.Location.Address,
		Committee: t.Location.Committee, UnitID: t.UnitID,
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt,
		History: []residentEntry{},
	}
	if cu, ok := n.Unit(t.Location.Committee); ok {
		v.CommitteeNameZH, v.CommitteeNameEN = cu.NameZH, cu.NameEN
	}
	if uu, ok := n.Unit(t.UnitID); ok {
		v.UnitNameZH, v.UnitNameEN = uu.NameZH, uu.NameEN
	}
	if full && t.Contact.Phone != "" {
		v.PhoneMasked = hotline.MaskPhone(t.Contact.Phone)
	}
	// A ticket at version 1 has exactly one event, its creation: answer a
	// fresh ticket without a second round trip to the store.
	events := []*hotline.Event{{Type: hotline.EventTicketCreated, Status: t.Status, At: t.CreatedAt}}
	if t.Version > 1 {
		var err error
		if events, err = s.Tickets.TicketEvents(ctx, t.ID); err != nil {
			return nil, err
		}
	}
	for _, e := range events {
		entry := residentEntry{Type: e.Type, Status: e.Status, At: e.At}
		if full {
			entry.Note = e.Note
		}
		v.History = append(v.History, entry)
	}
	return v, nil
}

// staffTicket is the Ticket JSON with the resident's phone, address and
// e-mail masked, its recording left out, and the names of its service and
// unit (docs/API.md, StaffTicket). The board, the lists and their
// screenshots never show a resident's details in full; whoever needs them
// asks GET /api/v1/tickets/{id}/contact, which records that they did
// (audit.go).
type staffTicket struct {
	hotline.Ticket
	// HasMedia says the ticket has a recording or a photo (media_url is
	// left out: the URL is the recording).
	HasMedia      bool   `json:"has_media,omitempty"`
	ServiceNameZH string `json:"service_name_zh"`
	ServiceNameEN string `json:"service_name_en"`
	UnitNameZH    string `json:"unit_name_zh"`
	UnitNameEN    string `json:"unit_name_en"`
}

func (s *Server) staffView(t *hotline.Ticket) *staffTicket {
	v := &staffTicket{Ticket: *t, HasMedia: t.MediaURL != ""}
	if v.Contact.Phone != "" {
		v.Contact.Phone = hotline.MaskPhone(v.Contact.Phone)
	}
	v.Contact.Email = hotline.MaskEmail(v.Contact.Email)
	v.Location.Address = hotline.MaskAddress(v.Location.Address)
	v.MediaURL = ""
	if c, ok := s.Directory.Catalogue().Find(t.ServiceCode); ok {
		v.ServiceNameZH, v.ServiceNameEN = c.NameZH, c.NameEN
	}
	if u, ok := s.Directory.Network().Unit(t.UnitID); ok {
		v.UnitNameZH, v.UnitNameEN = u.NameZH, u.NameEN
	}
	return v
}

func (s *Server) handleTicketView(w http.ResponseWriter, r *http.Request) {
	u, _ := requireUser(w, r)
	if u == nil {
		return
	}
	var t *hotline.Ticket
	var err error
	details := true
	if u.Role == hotline.RoleVolunteer {
		// Volunteers see only the tickets assigned to them (volunteer.go).
		t, details, err = s.volunteerTicket(r.Context(), u, r.PathValue("id"))
	} else if t, err = s.findTicket(r.Context(), r.PathValue("id")); err == nil && !u.CanSeeTicket(s.Directory.Network(), t) {
		err = notFound()
	}
	if err != nil {
		Error(w, r, err)
		return
	}
	events, err := s.Tickets.TicketEvents(r.Context(), t.ID)
	if err != nil {
		Error(w, r, err)
		return
	}
	if events == nil {
		events = []*hotline.Event{}
	}
	if !details {
		events = withoutNotes(events)
	}
	writeJSON(w, http.StatusOK, struct {
		Ticket *staffTicket     `json:"ticket"`
		Events []*hotline.Event `json:"events"`
	}{s.staffView(t), events})
}

// Limits of a ticket list page. maxListLimit is the store's cap.
const (
	defaultListLimit = 100
	maxListLimit     = 1000
)

func (s *Server) handleTicketList(w http.ResponseWriter, r *http.Request) {
	u, _ := requireUser(w, r)
	if u == nil {
		return
	}
	f, err := parseTicketFilter(r)
	if err != nil {
		Error(w, r, err)
		return
	}
	visible := s.visibleTickets
	if u.Role == hotline.RoleVolunteer {
		visible = s.volunteerTickets // only the tickets assigned to them (volunteer.go)
	}
	tickets, total, err := visible(r.Context(), u, f)
	if err != nil {
		Error(w, r, err)
		return
	}
	views := make([]*staffTicket, 0, len(tickets))
	for _, t := range tickets {
		views = append(views, s.staffView(t))
	}
	writeJSON(w, http.StatusOK, struct {
		Tickets []*staffTicket `json:"tickets"`
		Total   int            `json:"total"`
	}{views, total})
}

// shanghai is the street's time zone. China keeps no daylight saving time,
// so a fixed offset is exact and needs no tzdata on the host.
var shanghai = time.FixedZone("CST", 8*60*60)

// parseTicketFilter reads the list query. A bare date is a whole day in
// Shanghai: from=2025-03-01&to=2025-03-31 covers all of March, both ends
// included; RFC 3339 times are taken as given, with "to" excluded.
func parseTicketFilter(r *http.Request) (hotline.TicketFilter, error) {
	q := r.URL.Query()
	fe := hotline.FieldErrors{}
	f := hotline.TicketFilter{
		ServiceCode: strings.TrimSpace(q.Get("service_code")),
		Committee:   strings.TrimSpace(q.Get("committee")),
		Limit:       defaultListLimit,
	}
	if unit := strings.TrimSpace(q.Get("unit")); unit != "" {
		f.Units = []string{unit}
	}
	if st := strings.TrimSpace(q.Get("status")); st != "" {
		for _, x := range strings.Split(st, ",") {
			status := hotline.Status(strings.TrimSpace(x))
			if !status.Valid() {
				fe.Add("status", "unknown status; use a comma list of new, routed, accepted, in_progress, resolved, closed, cancelled, reopened")
				break
			}
			f.Statuses = append(f.Statuses, status)
		}
	}
	f.From = parseTime(q.Get("from"), false, "from", fe)
	f.To = parseTime(q.Get("to"), true, "to", fe)
	f.Offset, f.Limit = parsePage(q, f.Limit, fe)
	return f, fe.Err()
}

// parsePage reads a list's offset and limit (limit keeps its value when
// the query has none), adding what is wrong to fe.
func parsePage(q url.Values, limit int, fe hotline.FieldErrors) (offset, lim int) {
	lim = limit
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			fe.Add("offset", "must be a whole number, 0 or more")
		}
		offset = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxListLimit {
			fe.Add("limit", "must be a whole number from 1 to 1000")
		}
		lim = n
	}
	return offset, lim
}

// parseTime reads one date or time of a query (see parseTicketFilter);
// end makes a bare date's day count in full. Years outside [minQueryYear,
// maxQueryYear] are refused: no ticket is there, and near the ends of what
// RFC 3339 can write (years 0 to 9999) a day added for "to", a default
// period taken off or a shift to UTC would make a time that the answer's
// JSON cannot hold (a 500 for /api/v1/stats?to=0000-01-01T00:00:00Z).
func parseTime(v string, end bool, field string, fe hotline.FieldErrors) time.Time {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		if t, err = time.ParseInLocation(time.DateOnly, v, shanghai); err == nil && end {
			t = t.AddDate(0, 0, 1) // the filter's To is exclusive
		}
	}
	if err != nil {
		fe.Add(field, "use a date like 2025-03-01 or a time like 2025-03-01T08:00:00Z")
		return time.Time{}
	}
	if y := t.UTC().Year(); y < minQueryYear || y > maxQueryYear {
		fe.Add(field, fmt.Sprintf("use a date from %d to %d", minQueryYear, maxQueryYear))
		return time.Time{}
	}
	return t
}

// The years a query's dates may name (parseTime).
const (
	minQueryYear = 1970
	maxQueryYear = 2999
)

// maxVisibleScan bounds how many tickets one query of a merged list may
// read, so one request cannot make the store walk everything it holds.
const maxVisibleScan = 20000

// visibleTickets returns the page of tickets matching f that u may see,
// and how many there are in all.
//
// A user sees the tickets held by their unit or below it, and (staff, not
// volunteers) those located in the area of a committee below it, wherever
// they were escalated. The store's filter ANDs its conditions, so that
// union is one query by units plus one per committee, merged here. Each
// result is checked again with CanSeeTicket, the rule itself, so a filter
// mistake can only hide a ticket, never show one.
func (s *Server) visibleTickets(ctx context.Context, u *hotline.User, f hotline.TicketFilter) ([]*hotline.Ticket, int, error) {
	n := s.Directory.Network()
	if u.Role == hotline.RoleAdmin {
		ts, total, err := s.Tickets.FindTickets(ctx, f)
		return ts, total, err
	}
	if u.UnitID == "" {
		return []*hotline.Ticket{}, 0, nil
	}

	subtree := n.Subtree(u.UnitID)
	var queries []hotline.TicketFilter
	byUnit := f
	byUnit.Units = slices.Clone(subtree)
	if own, ok := n.Unit(u.UnitID); ok && own.Tier >= hotline.TierStreet {
		byUnit.Units = append(byUnit.Units, "") // unplaced tickets (CanSeeUnit)
	}
	if len(f.Units) > 0 {
		byUnit.Units = slices.DeleteFunc(byUnit.Units, func(id string) bool { return !slices.Contains(f.Units, id) })
	}
	if len(byUnit.Units) > 0 {
		queries = append(queries, byUnit)
	}
	if u.Role != hotline.RoleVolunteer {
		for _, id := range subtree {
			if unit, ok := n.Unit(id); !ok || unit.Kind != hotline.KindCommittee || (f.Committee != "" && f.Committee != id) {
				continue
			}
			byArea := f
			byArea.Committee = id
			queries = append(queries, byArea)
		}
	}

	visible := func(ts []*hotline.Ticket) []*hotline.Ticket {
		return slices.DeleteFunc(ts, func(t *hotline.Ticket) bool { return !u.CanSeeTicket(n, t) })
	}
	switch len(queries) {
	case 0:
		return []*hotline.Ticket{}, 0, nil
	case 1:
		ts, total, err := s.Tickets.FindTickets(ctx, queries[0])
		if err != nil {
			return nil, 0, err
		}
		kept := visible(ts)
		return kept, total - (len(ts) - len(kept)), nil
	}

	seen := map[string]*hotline.Ticket{}
	for _, q := range queries {
		q.Offset, q.Limit = 0, maxListLimit
		for q.Offset < maxVisibleScan {
			ts, total, err := s.Tickets.FindTickets(ctx, q)
			if err != nil {
				return nil, 0, err
			}
			for _, t := range ts {
				seen[t.ID] = t
			}
			q.Offset += len(ts)
			if len(ts) == 0 || q.Offset >= total {
				break
			}
		}
		if q.Offset >= maxVisibleScan {
			s.Logger.Warn("ticket list truncated", "user_id", u.ID, "scanned", q.Offset)
		}
	}
	all := make([]*hotline.Ticket, 0, len(seen))
	for _, t := range seen {
		all = append(all, t)
	}
	all = visible(all)
	// The store's order: newest first, then the later-allocated id.
	slices.SortFunc(all, func(a, b *hotline.Ticket) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(len(b.ID), len(a.ID)), cmp.Compare(b.ID, a.ID))
	})
	total := len(all)
	lo := min(f.Offset, total)
	limit := f.Limit
	if limit <= 0 {
		limit = defaultListLimit
	}
	return all[lo:min(lo+limit, total)], total, nil
}
