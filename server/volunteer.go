package server

import (
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"math"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/volunteers"
)

// Volunteers is what the HTTP layer needs of the volunteer registry and
// its tasking (package volunteers; NewVolunteers joins the two). Every
// state change and every permission is theirs, so the API, imports and
// the phone line get the same rules; u is the signed-in user. Errors are
// hotline errors, answered with Error.
type Volunteers interface {
	// Register files a public self-registration, which lands as applied.
	// Errors: EINVALID with fields, ECONFLICT for a phone already registered.
	Register(ctx context.Context, f volunteers.RegistrationForm) (*hotline.Volunteer, error)
	// List and Get read the registry as u may see it (volunteers.View:
	// phones masked but to social workers, admins and the group's lead).
	List(ctx context.Context, u *hotline.User, f hotline.VolunteerFilter) ([]*hotline.Volunteer, int, error)
	Get(ctx context.Context, u *hotline.User, id string) (*hotline.Volunteer, error)

	// The review: each answers the volunteer after the change. Errors:
	// EFORBIDDEN, ENOTFOUND, ECONFLICT (not in a status that allows it),
	// EINVALID (a missing classification or reason).
	Approve(ctx context.Context, u *hotline.User, id, classification string) (*hotline.Volunteer, error)
	Reject(ctx context.Context, u *hotline.User, id, reason string) (*hotline.Volunteer, error)
	Suspend(ctx context.Context, u *hotline.User, id, reason string) (*hotline.Volunteer, error)
	Activate(ctx context.Context, u *hotline.User, id string) (*hotline.Volunteer, error)
	MarkLeft(ctx context.Context, u *hotline.User, id string) (*hotline.Volunteer, error)
	// UpdateProfile replaces a volunteer's profile with p (every field:
	// one left empty is cleared), checked as the registration form is,
	// and answers the volunteer after the change. A p.Version other than
	// 0 must still be the stored one, so that a second editor's change is
	// not overwritten unseen. Errors: EFORBIDDEN (social workers and
	// admins only), EINVALID with fields, ENOTFOUND, ECONFLICT (the phone
	// is another volunteer's, or the version moved on).
	UpdateProfile(ctx context.Context, u *hotline.User, id string, p volunteers.Profile) (*hotline.Volunteer, error)

	// Import reads a CSV of volunteers and reports every row refused;
	// Export writes the registry (what u may see, filtered) as CSV.
	Import(ctx context.Context, u *hotline.User, r io.Reader) (volunteers.ImportReport, error)
	Export(ctx context.Context, u *hotline.User, w io.Writer, f hotline.VolunteerFilter) error

	// Match ranks the volunteers who could serve t at time at, best first,
	// with the reason of each rank. The handler has checked that the user
	// sees t.
	Match(ctx context.Context, t *hotline.Ticket, at time.Time, limit int) ([]volunteers.Suggestion, error)
	// Assign offers ticketID to the volunteers (staff who may act on the
	// ticket; a group's lead within the group). Errors: EFORBIDDEN,
	// ECONFLICT (ticket closed, already assigned, not matchable), EINVALID.
	Assign(ctx context.Context, u *hotline.User, ticketID string, volunteerIDs []string) ([]*hotline.Assignment, error)
	// TicketAssignments lists a ticket's assignments, newest first (the
	// handler has checked that the user sees the ticket).
	TicketAssignments(ctx context.Context, ticketID string) ([]*hotline.Assignment, error)
	// Withdraw takes an open task back from its volunteer (who is told by
	// SMS when they had accepted). Errors: EFORBIDDEN, ENOTFOUND,
	// ECONFLICT (no longer open).
	Withdraw(ctx context.Context, u *hotline.User, assignmentID string) (*hotline.Assignment, error)
	// SetHours corrects the hours of a done assignment.
	SetHours(ctx context.Context, u *hotline.User, assignmentID string, hours float64) (*hotline.Assignment, error)
	// Record is a volunteer's record page: profile, tasks, hours by category.
	Record(ctx context.Context, u *hotline.User, volunteerID string) (*volunteers.VolunteerRecord, error)
	// Hours sums the hours given in [from, to) by volunteer, group,
	// committee or category; ExportHours writes them per volunteer as CSV,
	// for the street's annual volunteer report.
	Hours(ctx context.Context, u *hotline.User, from, to time.Time, by string) ([]volunteers.HoursRow, error)
	ExportHours(ctx context.Context, u *hotline.User, w io.Writer, from, to time.Time) error

	// VolunteerTickets lists the ids of the tickets assigned to u (a user
	// of role volunteer), whatever their assignments' status;
	// CanSeeTicketAsVolunteer says whether u sees ticketID now and, when
	// they do, whether the resident's contact details too (only while
	// their assignment is accepted).
	VolunteerTickets(ctx context.Context, u *hotline.User) ([]string, error)
	CanSeeTicketAsVolunteer(ctx context.Context, u *hotline.User, ticketID string) (see, details bool, err error)
}

// volunteerImportPath takes the CSV import, whose body may be far larger
// than any other (see limitBody).
const volunteerImportPath = "/api/v1/volunteers/import"

// NewVolunteers joins the registry and its tasking into what the server
// needs: Server.Volunteers = server.NewVolunteers(registry, tasker). The
// registry's Assignments store must be set.
func NewVolunteers(registry *volunteers.Service, tasker *volunteers.Tasker) Volunteers {
	return &volunteerService{registry, tasker}
}

type volunteerService struct {
	*volunteers.Service
	*volunteers.Tasker
}

func (vs *volunteerService) TicketAssignments(ctx context.Context, ticketID string) ([]*hotline.Assignment, error) {
	if vs.Service.Assignments == nil {
		return nil, hotline.Internal(errors.New("server: the volunteer registry has no assignment store"))
	}
	return vs.Service.Assignments.TicketAssignments(ctx, ticketID)
}

func (vs *volunteerService) VolunteerTickets(ctx context.Context, u *hotline.User) ([]string, error) {
	v, err := vs.Tasker.VolunteerFor(ctx, u)
	if hotline.ErrorCode(err) == hotline.ENOTFOUND {
		return nil, nil // an account with no volunteer behind it has no tasks
	} else if err != nil {
		return nil, err
	}
	if vs.Service.Assignments == nil {
		return nil, nil
	}
	as, err := vs.Service.Assignments.VolunteerAssignments(ctx, v.ID)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(as))
	for _, a := range as {
		ids = append(ids, a.TicketID)
	}
	return ids, nil
}

func (s *Server) registerVolunteerRoutes() {
	s.mux.Handle("GET /volunteer", s.handlePage("volunteer.html"))
	s.mux.Handle("GET /volunteers", s.handlePage("volunteers.html"))
	s.mux.Handle("GET /volunteers/{id}", s.handlePage("volunteer-record.html"))

	s.mux.HandleFunc("POST /api/v1/volunteers/register", s.handleVolunteerRegister)
	s.mux.HandleFunc("GET /api/v1/volunteers", s.handleVolunteerList)
	s.mux.HandleFunc("GET /api/v1/volunteers/terms", s.handleVolunteerTerms)
	s.mux.HandleFunc("GET /api/v1/volunteers/export.csv", s.handleVolunteerExport)
	s.mux.HandleFunc("POST "+volunteerImportPath, s.handleVolunteerImport)
	// The street's list: volunteers.MaxImportBytes, with room for a
	// multipart envelope (social workers only: the handler checks).
	s.bodyLimits["POST "+volunteerImportPath] = volunteers.MaxImportBytes + 64<<10
	s.mux.HandleFunc("GET /api/v1/volunteers/hours", s.handleVolunteerHours)
	s.mux.HandleFunc("GET /api/v1/volunteers/hours.csv", s.handleVolunteerHoursCSV)
	s.mux.HandleFunc("GET /api/v1/volunteers/{id}", s.handleVolunteerRecord)
	s.mux.HandleFunc("PUT /api/v1/volunteers/{id}", s.handleVolunteerUpdate)
	for name, a := range volunteerActions {
		s.mux.HandleFunc("POST /api/v1/volunteers/{id}/"+name, s.handleVolunteerAction(a))
	}
	s.mux.HandleFunc("GET /api/v1/tickets/{id}/volunteers/suggestions", s.handleVolunteerSuggestions)
	s.mux.HandleFunc("GET /api/v1/tickets/{id}/volunteers", s.handleTicketAssignments)
	s.mux.HandleFunc("POST /api/v1/tickets/{id}/volunteers", s.handleVolunteerAssign)
	s.mux.HandleFunc("POST /api/v1/assignments/{id}/hours", s.handleAssignmentHours)
	s.mux.HandleFunc("POST /api/v1/assignments/{id}/withdraw", s.handleAssignmentWithdraw)
}

// volunteers answers the registry, or writes 503 and nil when the server
// runs without one.
func (s *Server) volunteers(w http.ResponseWriter, r *http.Request) Volunteers {
	if s.Volunteers == nil {
		Error(w, r, hotline.Errorf(hotline.EUNAVAILABLE, "the volunteer registry is not available"))
		return nil
	}
	return s.Volunteers
}

// staffForVolunteers is requireUser and the registry, refusing volunteers:
// the registry's pages and reports are for staff.
func (s *Server) staffForVolunteers(w http.ResponseWriter, r *http.Request) (*hotline.User, Volunteers) {
	u, _ := requireUser(w, r)
	if u == nil {
		return nil, nil
	}
	if u.Role == hotline.RoleVolunteer {
		Error(w, r, hotline.Errorf(hotline.EFORBIDDEN, "volunteers have no access to the registry"))
		return nil, nil
	}
	v := s.volunteers(w, r)
	if v == nil {
		return nil, nil
	}
	return u, v
}

// handleVolunteerRegister files a public self-registration. It is limited
// like public intake, and sends no cookie-bound answer: a signed-in member
// of staff registering someone goes through the same form.
func (s *Server) handleVolunteerRegister(w http.ResponseWriter, r *http.Request) {
	if err := s.limitPublic(r, s.Config.PublicRatePerMinute); err != nil {
		Error(w, r, err)
		return
	}
	vs := s.volunteers(w, r)
	if vs == nil {
		return
	}
	m, err := readJSONObject(r)
	if err != nil {
		Error(w, r, err)
		return
	}
	fe := hotline.FieldErrors{}
	f := volunteerForm(m, fe)
	// The registry keeps personal data: a registration says the person
	// agrees to it, as the form's check box asks.
	consent := boolField(m, "consent", fe)
	if _, bad := fe["consent"]; !bad && !consent {
		fe.Add("consent", "agree that the street keeps these details to arrange volunteering")
	}
	if err := fe.Err(); err != nil {
		Error(w, r, err)
		return
	}
	v, err := vs.Register(r.Context(), f)
	if err != nil {
		Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, struct {
		ID     string                  `json:"id"`
		Status hotline.VolunteerStatus `json:"status"`
	}{v.ID, v.Status})
}

// volunteerForm reads the members of the registration form, which the
// profile edit shares. Groups are not among them: a registration may not
// put itself in a group (whose lead would see the phone).
func volunteerForm(m map[string]json.RawMessage, fe hotline.FieldErrors) volunteers.RegistrationForm {
	f := volunteers.RegistrationForm{
		Name:         stringField(m, "name", fe),
		Phone:        stringField(m, "phone", fe),
		Committee:    stringField(m, "committee", fe),
		Address:      stringField(m, "address", fe),
		Skills:       stringsField(m, "skills", fe),
		Languages:    stringsField(m, "languages", fe),
		Availability: stringField(m, "availability", fe),
	}
	if raw, ok := m["qualifications"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &f.Qualifications); err != nil {
			fe.Add("qualifications", `must be a list like [{"kind":"nurse","expires":"2027-06-30"}]`)
		}
	}
	return f
}

// wholeField reads a whole number, given as a JSON number or a numeric
// string (what a number input's value is); a missing member, null or an
// empty string is 0.
func wholeField(m map[string]json.RawMessage, name string, fe hotline.FieldErrors) int64 {
	raw, ok := m[name]
	if !ok || isNull(raw) {
		return 0
	}
	var text string
	if err := json.Unmarshal(raw, &text); err == nil {
		if text = strings.TrimSpace(text); text == "" {
			return 0
		}
	} else {
		text = string(bytes.TrimSpace(raw))
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		fe.Add(name, "must be a whole number")
		return 0
	}
	return n
}

// handleVolunteerUpdate replaces a volunteer's profile: the registration
// form's fields and the social worker's own (classification, max_tasks,
// notes) and groups. Every field is replaced, so a page sends back what it
// does not edit. An optional version must be the stored one (409 if not).
func (s *Server) handleVolunteerUpdate(w http.ResponseWriter, r *http.Request) {
	u, vs := s.staffForVolunteers(w, r)
	if u == nil {
		return
	}
	m, err := readJSONObject(r)
	if err != nil {
		Error(w, r, err)
		return
	}
	fe := hotline.FieldErrors{}
	p := volunteers.Profile{
		RegistrationForm: volunteerForm(m, fe),
		Classification:   stringField(m, "classification", fe),
		Notes:            stringField(m, "notes", fe),
	}
	p.Groups = stringsField(m, "groups", fe)
	if n := wholeField(m, "max_tasks", fe); n < 0 {
		fe.Add("max_tasks", "must be 0 (the registry's default) or more")
	} else {
		p.MaxTasks = int(min(n, math.MaxInt32)) // the registry bounds it
	}
	if p.Version = wholeField(m, "version", fe); p.Version < 0 {
		fe.Add("version", "must be the version the volunteer was read at, like 3")
	}
	if err := fe.Err(); err != nil {
		Error(w, r, err)
		return
	}
	v, err := vs.UpdateProfile(r.Context(), u, r.PathValue("id"), p)
	if err != nil {
		Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Volunteer *hotline.Volunteer `json:"volunteer"`
	}{volunteers.View(u, v)})
}

// handleVolunteerTerms answers the registry's fixed lists with their
// Chinese and English names, for the forms: public, like the catalogue.
func (s *Server) handleVolunteerTerms(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, struct {
		Classifications []volunteers.Term `json:"classifications"`
		Languages       []volunteers.Term `json:"languages"`
		Qualifications  []volunteers.Term `json:"qualifications"`
	}{volunteers.Classifications, volunteers.Languages, volunteers.Qualifications})
}

// stringsField reads a list of strings; a single string is taken as a
// list of one (a plain HTML form sends one value that way).
func stringsField(m map[string]json.RawMessage, name string, fe hotline.FieldErrors) []string {
	raw, ok := m[name]
	if !ok || isNull(raw) {
		return nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		var one string
		if json.Unmarshal(raw, &one) != nil {
			fe.Add(name, "must be a list of strings")
			return nil
		}
		list = []string{one}
	}
	out := list[:0]
	for _, x := range list {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// parseVolunteerFilter reads the list query.
func parseVolunteerFilter(r *http.Request) (hotline.VolunteerFilter, error) {
	q := r.URL.Query()
	fe := hotline.FieldErrors{}
	f := hotline.VolunteerFilter{
		Committee: strings.TrimSpace(q.Get("committee")),
		Group:     strings.TrimSpace(q.Get("group")),
		Skill:     strings.TrimSpace(q.Get("skill")),
		Query:     strings.TrimSpace(q.Get("q")),
		Limit:     defaultListLimit,
	}
	if st := strings.TrimSpace(q.Get("status")); st != "" {
		for _, x := range strings.Split(st, ",") {
			status := hotline.VolunteerStatus(strings.TrimSpace(x))
			if !validVolunteerStatus(status) {
				fe.Add("status", "unknown status; use a comma list of applied, approved, active, suspended, left, rejected")
				break
			}
			f.Statuses = append(f.Statuses, status)
		}
	}
	f.Offset, f.Limit = parsePage(q, f.Limit, fe)
	return f, fe.Err()
}

func validVolunteerStatus(s hotline.VolunteerStatus) bool {
	switch s {
	case hotline.VolunteerApplied, hotline.VolunteerApproved, hotline.VolunteerActive,
		hotline.VolunteerSuspended, hotline.VolunteerLeft, hotline.VolunteerRejected:
		return true
	}
	return false
}

func (s *Server) handleVolunteerList(w http.ResponseWriter, r *http.Request) {
	u, vs := s.staffForVolunteers(w, r)
	if u == nil {
		return
	}
	f, err := parseVolunteerFilter(r)
	if err != nil {
		Error(w, r, err)
		return
	}
	views, total, err := vs.List(r.Context(), u, f)
	if err != nil {
		Error(w, r, err)
		return
	}
	if views == nil {
		views = []*hotline.Volunteer{}
	}
	writeJSON(w, http.StatusOK, struct {
		Volunteers []*hotline.Volunteer `json:"volunteers"`
		Total      int                  `json:"total"`
	}{views, total})
}

// handleVolunteerRecord answers a volunteer's record; a volunteer may
// read their own (the registry decides).
func (s *Server) handleVolunteerRecord(w http.ResponseWriter, r *http.Request) {
	u, _ := requireUser(w, r)
	if u == nil {
		return
	}
	vs := s.volunteers(w, r)
	if vs == nil {
		return
	}
	rec, err := vs.Record(r.Context(), u, r.PathValue("id"))
	if err != nil {
		Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rec)
}

// volunteerBody holds every member a review action's body may carry.
type volunteerBody struct {
	Classification string `json:"classification"`
	Reason         string `json:"reason"`
}

type volunteerAction func(ctx context.Context, vs Volunteers, u *hotline.User, id string, b volunteerBody) (*hotline.Volunteer, error)

// volunteerActions maps POST /api/v1/volunteers/{id}/<name> to the review
// call.
var volunteerActions = map[string]volunteerAction{
	"approve": func(ctx context.Context, vs Volunteers, u *hotline.User, id string, b volunteerBody) (*hotline.Volunteer, error) {
		return vs.Approve(ctx, u, id, b.Classification)
	},
	"reject": func(ctx context.Context, vs Volunteers, u *hotline.User, id string, b volunteerBody) (*hotline.Volunteer, error) {
		return vs.Reject(ctx, u, id, b.Reason)
	},
	"suspend": func(ctx context.Context, vs Volunteers, u *hotline.User, id string, b volunteerBody) (*hotline.Volunteer, error) {
		return vs.Suspend(ctx, u, id, b.Reason)
	},
	"activate": func(ctx context.Context, vs Volunteers, u *hotline.User, id string, _ volunteerBody) (*hotline.Volunteer, error) {
		return vs.Activate(ctx, u, id)
	},
	"left": func(ctx context.Context, vs Volunteers, u *hotline.User, id string, _ volunteerBody) (*hotline.Volunteer, error) {
		return vs.MarkLeft(ctx, u, id)
	},
}

func (s *Server) handleVolunteerAction(a volunteerAction) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, vs := s.staffForVolunteers(w, r)
		if u == nil {
			return
		}
		var b volunteerBody
		if r.ContentLength != 0 {
			if err := decodeJSON(r, &b); err != nil {
				Error(w, r, err)
				return
			}
		}
		b.Classification, b.Reason = strings.TrimSpace(b.Classification), strings.TrimSpace(b.Reason)
		v, err := a(r.Context(), vs, u, r.PathValue("id"), b)
		if err != nil {
			Error(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, struct {
			Volunteer *hotline.Volunteer `json:"volunteer"`
		}{volunteers.View(u, v)})
	}
}

// handleVolunteerImport takes the CSV as a multipart upload (the review
// page's file input, field "file") or as the body itself (text/csv, for
// scripts). The body limit applies to both.
func (s *Server) handleVolunteerImport(w http.ResponseWriter, r *http.Request) {
	u, vs := s.staffForVolunteers(w, r)
	if u == nil {
		return
	}
	var src io.Reader = r.Body
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case mt == "multipart/form-data":
		file, _, err := r.FormFile("file")
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				Error(w, r, tooLarge)
				return
			}
			Error(w, r, fieldError("file", "attach the CSV file as the form field \"file\""))
			return
		}
		defer file.Close()
		src = file
	case mt == "" || mt == "text/csv" || mt == "text/plain" || mt == "application/csv":
	default:
		Error(w, r, hotline.Errorf(hotline.EINVALID, "send the CSV as text/csv or as a multipart upload (field \"file\")"))
		return
	}
	// Read it all first, so that a body over the limit is refused as such
	// rather than imported in part.
	b, err := io.ReadAll(src)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			Error(w, r, tooLarge)
			return
		}
		Error(w, r, hotline.Errorf(hotline.EINVALID, "could not read the CSV"))
		return
	}
	if len(bytes.TrimSpace(b)) == 0 {
		Error(w, r, fieldError("file", "the CSV is empty"))
		return
	}
	rep, err := vs.Import(r.Context(), u, bytes.NewReader(b))
	if err != nil {
		Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// writeCSV answers a CSV download: it is built in memory first, so that a
// failure is still answered in the error shape instead of a cut-off file.
func writeCSV(w http.ResponseWriter, r *http.Request, name string, fill func(io.Writer) error) {
	var buf bytes.Buffer
	buf.WriteString("\ufeff") // a byte-order mark, so Excel reads the Chinese as UTF-8
	if err := fill(&buf); err != nil {
		Error(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

func (s *Server) handleVolunteerExport(w http.ResponseWriter, r *http.Request) {
	u, vs := s.staffForVolunteers(w, r)
	if u == nil {
		return
	}
	f, err := parseVolunteerFilter(r)
	if err != nil {
		Error(w, r, err)
		return
	}
	if r.URL.Query().Get("limit") == "" {
		f.Limit = 0 // the whole registry, not a page of it
	}
	writeCSV(w, r, "volunteers.csv", func(out io.Writer) error {
		// The file holds every volunteer's phone and address in full:
		// one audit entry per export, with the count and the query,
		// recorded before the file leaves (audit.go).
		var file bytes.Buffer
		if err := vs.Export(r.Context(), u, &file, f); err != nil {
			return err
		}
		// A file of the header alone discloses nothing; one that does
		// not parse (never seen) is recorded without a count.
		if n := csvRecords(file.Bytes()); n != 1 {
			e := &hotline.AuditEntry{Fields: []string{hotline.AuditPhone, hotline.AuditAddress},
				Via: "GET /api/v1/volunteers/export.csv", Count: max(n-1, 0), Filter: r.URL.RawQuery}
			if err := s.recordRead(r.Context(), u, e); err != nil {
				return err
			}
		}
		_, err := out.Write(file.Bytes())
		return err
	})
}

// csvRecords counts the records of a CSV file (quoted line breaks
// included), -1 when it does not parse.
func csvRecords(b []byte) int {
	cr := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\ufeff"))))
	cr.FieldsPerRecord = -1
	n := 0
	for {
		if _, err := cr.Read(); err == io.EOF {
			return n
		} else if err != nil {
			return -1
		}
		n++
	}
}

// hoursQuery reads from, to and by of the hours reports. Without from and
// to it is the current year in Shanghai, the annual report's period.
func hoursQuery(r *http.Request, now time.Time) (from, to time.Time, by string, err error) {
	q := r.URL.Query()
	fe := hotline.FieldErrors{}
	from = parseTime(q.Get("from"), false, "from", fe)
	to = parseTime(q.Get("to"), true, "to", fe)
	year := now.In(shanghai).Year()
	if from.IsZero() {
		from = time.Date(year, 1, 1, 0, 0, 0, 0, shanghai)
	}
	if to.IsZero() {
		to = time.Date(year+1, 1, 1, 0, 0, 0, 0, shanghai)
	}
	if !to.After(from) {
		fe.Add("to", "must be after from")
	}
	by = cmp.Or(strings.TrimSpace(q.Get("by")), "volunteer")
	if !slices.Contains([]string{"volunteer", "category", "committee", "group"}, by) {
		fe.Add("by", "use volunteer, category, committee or group")
	}
	return from, to, by, fe.Err()
}

func (s *Server) handleVolunteerHours(w http.ResponseWriter, r *http.Request) {
	u, vs := s.staffForVolunteers(w, r)
	if u == nil {
		return
	}
	from, to, by, err := hoursQuery(r, time.Now())
	if err != nil {
		Error(w, r, err)
		return
	}
	rows, err := vs.Hours(r.Context(), u, from, to, by)
	if err != nil {
		Error(w, r, err)
		return
	}
	if rows == nil {
		rows = []volunteers.HoursRow{}
	}
	writeJSON(w, http.StatusOK, struct {
		From time.Time             `json:"from"`
		To   time.Time             `json:"to"`
		By   string                `json:"by"`
		Rows []volunteers.HoursRow `json:"rows"`
	}{from.UTC(), to.UTC(), by, rows})
}

func (s *Server) handleVolunteerHoursCSV(w http.ResponseWriter, r *http.Request) {
	u, vs := s.staffForVolunteers(w, r)
	if u == nil {
		return
	}
	from, to, _, err := hoursQuery(r, time.Now())
	if err != nil {
		Error(w, r, err)
		return
	}
	name := "volunteer-hours-" + from.In(shanghai).Format("20060102") + "-" + to.In(shanghai).Format("20060102") + ".csv"
	writeCSV(w, r, name, func(out io.Writer) error { return vs.ExportHours(r.Context(), u, out, from, to) })
}

// visibleTicket loads the path's ticket for a member of staff who may see
// it; every miss is the one notFound.
func (s *Server) visibleTicket(ctx context.Context, u *hotline.User, id string) (*hotline.Ticket, error) {
	t, err := s.findTicket(ctx, id)
	if err != nil {
		return nil, err
	}
	if u.Role == hotline.RoleVolunteer || !u.CanSeeTicket(s.Directory.Network(), t) {
		return nil, notFound()
	}
	return t, nil
}

// Bounds of the suggestions list.
const (
	defaultSuggestions = 10
	maxSuggestions     = 50
)

func (s *Server) handleVolunteerSuggestions(w http.ResponseWriter, r *http.Request) {
	u, vs := s.staffForVolunteers(w, r)
	if u == nil {
		return
	}
	q := r.URL.Query()
	fe := hotline.FieldErrors{}
	at := parseTime(q.Get("at"), false, "at", fe)
	if at.IsZero() {
		at = time.Now()
	}
	limit := defaultSuggestions
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxSuggestions {
			fe.Add("limit", "must be a whole number from 1 to 50")
		}
		limit = n
	}
	if err := fe.Err(); err != nil {
		Error(w, r, err)
		return
	}
	t, err := s.visibleTicket(r.Context(), u, r.PathValue("id"))
	if err != nil {
		Error(w, r, err)
		return
	}
	list, err := vs.Match(r.Context(), t, at, limit)
	if err != nil {
		Error(w, r, err)
		return
	}
	out := make([]volunteers.Suggestion, 0, len(list))
	for _, sg := range list {
		if sg.Volunteer != nil {
			sg.Volunteer = volunteers.View(u, sg.Volunteer)
		}
		out = append(out, sg)
	}
	writeJSON(w, http.StatusOK, struct {
		TicketID    string                  `json:"ticket_id"`
		Suggestions []volunteers.Suggestion `json:"suggestions"`
	}{t.ID, out})
}

// assignmentView is an assignment with its volunteer as the user may see
// them (name and masked phone), for the board's list.
type assignmentView struct {
	*hotline.Assignment
	Volunteer *hotline.Volunteer `json:"volunteer,omitempty"`
}

// assignmentViews joins each assignment to its volunteer. A volunteer the
// user may not list is left out (the assignment still shows).
func (s *Server) assignmentViews(ctx context.Context, u *hotline.User, vs Volunteers, as []*hotline.Assignment) []assignmentView {
	out := make([]assignmentView, 0, len(as))
	byID := map[string]*hotline.Volunteer{}
	for _, a := range as {
		v, ok := byID[a.VolunteerID]
		if !ok {
			if x, err := vs.Get(ctx, u, a.VolunteerID); err == nil {
				v = x
			}
			byID[a.VolunteerID] = v
		}
		out = append(out, assignmentView{Assignment: a, Volunteer: v})
	}
	return out
}

func (s *Server) handleTicketAssignments(w http.ResponseWriter, r *http.Request) {
	u, vs := s.staffForVolunteers(w, r)
	if u == nil {
		return
	}
	t, err := s.visibleTicket(r.Context(), u, r.PathValue("id"))
	if err != nil {
		Error(w, r, err)
		return
	}
	as, err := vs.TicketAssignments(r.Context(), t.ID)
	if err != nil {
		Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		TicketID    string           `json:"ticket_id"`
		Assignments []assignmentView `json:"assignments"`
	}{t.ID, s.assignmentViews(r.Context(), u, vs, as)})
}

func (s *Server) handleVolunteerAssign(w http.ResponseWriter, r *http.Request) {
	u, vs := s.staffForVolunteers(w, r)
	if u == nil {
		return
	}
	m, err := readJSONObject(r)
	if err != nil {
		Error(w, r, err)
		return
	}
	fe := hotline.FieldErrors{}
	ids := stringsField(m, "volunteer_ids", fe)
	if len(ids) == 0 && len(fe) == 0 {
		fe.Add("volunteer_ids", "choose at least one volunteer")
	}
	if err := fe.Err(); err != nil {
		Error(w, r, err)
		return
	}
	t, err := s.visibleTicket(r.Context(), u, r.PathValue("id"))
	if err != nil {
		Error(w, r, err)
		return
	}
	as, err := vs.Assign(r.Context(), u, t.ID, ids)
	if err != nil {
		Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, struct {
		TicketID    string           `json:"ticket_id"`
		Assignments []assignmentView `json:"assignments"`
	}{t.ID, s.assignmentViews(r.Context(), u, vs, as)})
}

func (s *Server) handleAssignmentHours(w http.ResponseWriter, r *http.Request) {
	u, vs := s.staffForVolunteers(w, r)
	if u == nil {
		return
	}
	m, err := readJSONObject(r)
	if err != nil {
		Error(w, r, err)
		return
	}
	fe := hotline.FieldErrors{}
	h := floatField(m, "hours", fe)
	if h == nil && len(fe) == 0 {
		fe.Add("hours", "give the hours, like 1.5")
	} else if h != nil && (*h < 0 || *h > 24) {
		fe.Add("hours", "must be from 0 to 24")
	}
	if err := fe.Err(); err != nil {
		Error(w, r, err)
		return
	}
	a, err := vs.SetHours(r.Context(), u, r.PathValue("id"), *h)
	if err != nil {
		Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Assignment *hotline.Assignment `json:"assignment"`
	}{a})
}

func (s *Server) handleAssignmentWithdraw(w http.ResponseWriter, r *http.Request) {
	u, vs := s.staffForVolunteers(w, r)
	if u == nil {
		return
	}
	a, err := vs.Withdraw(r.Context(), u, r.PathValue("id"))
	if err != nil {
		Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Assignment *hotline.Assignment `json:"assignment"`
	}{a})
}

// ---- what volunteers see of tickets ----

// volunteerView is what a volunteer sees of a ticket: without the
// resident's details unless their task on it is accepted: no contact, no
// recording of their voice, no staff notes, no call or message id.
func volunteerView(t *hotline.Ticket, details bool) *hotline.Ticket {
	if details {
		return t
	}
	c := *t
	c.Contact = hotline.Contact{}
	c.MediaURL, c.StatusNotes, c.ExternalRef = "", "", ""
	return &c
}

// volunteerTicket loads one ticket for a volunteer: only one assigned to
// them, and its contact details only while the task is theirs.
func (s *Server) volunteerTicket(ctx context.Context, u *hotline.User, id string) (*hotline.Ticket, bool, error) {
	t, err := s.findTicket(ctx, id)
	if err != nil {
		return nil, false, err
	}
	if s.Volunteers == nil {
		return nil, false, notFound()
	}
	see, details, err := s.Volunteers.CanSeeTicketAsVolunteer(ctx, u, t.ID)
	if err != nil {
		return nil, false, err
	}
	if !see {
		return nil, false, notFound()
	}
	return volunteerView(t, details), details, nil
}

// volunteerTickets is visibleTickets for a volunteer: the tickets assigned
// to them that match f, newest first.
func (s *Server) volunteerTickets(ctx context.Context, u *hotline.User, f hotline.TicketFilter) ([]*hotline.Ticket, int, error) {
	if s.Volunteers == nil {
		return []*hotline.Ticket{}, 0, nil
	}
	ids, err := s.Volunteers.VolunteerTickets(ctx, u)
	if err != nil {
		return nil, 0, err
	}
	all := make([]*hotline.Ticket, 0, len(ids))
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		t, _, err := s.volunteerTicket(ctx, u, id)
		if hotline.ErrorCode(err) == hotline.ENOTFOUND {
			continue
		} else if err != nil {
			return nil, 0, err
		}
		if matchesTicketFilter(t, f) {
			all = append(all, t)
		}
	}
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

// matchesTicketFilter applies the list query to one ticket, as the store
// does.
func matchesTicketFilter(t *hotline.Ticket, f hotline.TicketFilter) bool {
	if len(f.Statuses) > 0 && !slices.Contains(f.Statuses, t.Status) {
		return false
	}
	if f.ServiceCode != "" && t.ServiceCode != f.ServiceCode {
		return false
	}
	if f.Committee != "" && t.Location.Committee != f.Committee {
		return false
	}
	if len(f.Units) > 0 && !slices.Contains(f.Units, t.UnitID) {
		return false
	}
	if !f.From.IsZero() && t.CreatedAt.Before(f.From) {
		return false
	}
	if !f.To.IsZero() && !t.CreatedAt.Before(f.To) {
		return false
	}
	return true
}

// withoutNotes is a ticket's history without its notes, which may quote
// the resident (their SMS replies, what they said on a callback), for a
// volunteer whose task is not (or no longer) accepted.
func withoutNotes(events []*hotline.Event) []*hotline.Event {
	out := make([]*hotline.Event, 0, len(events))
	for _, e := range events {
		c := *e
		c.Note = ""
		out = append(out, &c)
	}
	return out
}
