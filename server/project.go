package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/report"
)

// Projects is what the HTTP layer needs of the needs projects (package
// projects): the nightly job's drafts, the social workers' proposals made
// of them, purchases and their evaluation (docs/projects.md). Every rule
// and every permission is the service's; u is the signed-in member of
// staff (never a volunteer: the handlers refuse them first). Errors are
// hotline errors, answered with Error.
type Projects interface {
	// List answers the projects f selects that u may see, newest first.
	// Errors: EFORBIDDEN, EUNAVAILABLE.
	List(ctx context.Context, u *hotline.User, f hotline.ProjectFilter) ([]*hotline.Project, error)
	// Get answers one project. Errors: ENOTFOUND, EFORBIDDEN, EUNAVAILABLE.
	Get(ctx context.Context, u *hotline.User, id string) (*hotline.Project, error)
	// LastRun answers the newest run of the grouping job. Errors:
	// ENOTFOUND (it never ran), EFORBIDDEN, EUNAVAILABLE.
	LastRun(ctx context.Context, u *hotline.User) (*hotline.GroupingRun, error)

	// The changes, each answering the project after it. Errors:
	// EFORBIDDEN, ENOTFOUND, ECONFLICT (a status that does not allow it,
	// or a version that is not the stored one), EINVALID with fields,
	// EUNAVAILABLE.
	//
	// Propose edits a draft into a proposal, or a proposal again.
	Propose(ctx context.Context, u *hotline.User, id string, e hotline.ProposalEdit) (*hotline.Project, error)
	// Reject sets a draft aside, saying why.
	Reject(ctx context.Context, u *hotline.User, id, reason string) (*hotline.Project, error)
	// Merge folds the drafts ids into the draft or proposal into.
	Merge(ctx context.Context, u *hotline.User, into string, ids []string) (*hotline.Project, error)
	// Split moves ticketIDs of draft id into a new draft: kept is id
	// after, split the new one.
	Split(ctx context.Context, u *hotline.User, id string, ticketIDs []string) (kept, split *hotline.Project, err error)
	// Purchase records that the street bought a proposal.
	Purchase(ctx context.Context, u *hotline.User, id string, p hotline.Purchase) (*hotline.Project, error)
	// AddExpense records spending against a purchased project.
	AddExpense(ctx context.Context, u *hotline.User, id string, e hotline.Expense) (*hotline.Project, error)
	// Evaluate measures a purchased project now. Errors: ECONFLICT when
	// it is not purchased, and those of Get.
	Evaluate(ctx context.Context, u *hotline.User, id string) (*hotline.Evaluation, error)
}

// Bounds of what a person types into the proposal forms. They are far
// above any real title or summary and only keep a pasted document out.
const (
	maxProjectTitle = 200  // characters
	maxProjectText  = 4000 // summary, objectives
	maxProjectNote  = 500  // a reject reason, an expense's note, an organization
	maxProjectIDs   = 1000 // ids in one merge or split
	// maxProjectYuan bounds a budget or an expense (a street's annual
	// service budget is some millions of yuan).
	maxProjectYuan = 100_000_000
	maxPersonTimes = 10_000_000
)

func (s *Server) registerProjectRoutes() {
	s.mux.Handle("GET /projects", s.handlePage("projects.html"))
	s.mux.Handle("GET /projects/{id}", s.handlePage("project.html"))

	s.mux.HandleFunc("GET /api/v1/projects", s.handleProjectList)
	s.mux.HandleFunc("GET /api/v1/projects/run", s.handleProjectRun)
	s.mux.HandleFunc("GET /api/v1/projects/terms", s.handleProjectTerms)
	s.mux.HandleFunc("GET /api/v1/projects/export.xlsx", s.handleProjectYearExport(xlsxExport))
	s.mux.HandleFunc("GET /api/v1/projects/export.md", s.handleProjectYearExport(markdownExport))
	s.mux.HandleFunc("GET /api/v1/projects/{id}", s.handleProjectGet)
	s.mux.HandleFunc("GET /api/v1/projects/{id}/evaluation", s.handleProjectEvaluation)
	s.mux.HandleFunc("GET /api/v1/projects/{id}/export.xlsx", s.handleProjectExport(xlsxExport))
	s.mux.HandleFunc("GET /api/v1/projects/{id}/export.md", s.handleProjectExport(markdownExport))
	s.mux.HandleFunc("POST /api/v1/projects/{id}/propose", s.handleProjectPropose)
	s.mux.HandleFunc("POST /api/v1/projects/{id}/reject", s.handleProjectReject)
	s.mux.HandleFunc("POST /api/v1/projects/{id}/merge", s.handleProjectMerge)
	s.mux.HandleFunc("POST /api/v1/projects/{id}/split", s.handleProjectSplit)
	s.mux.HandleFunc("POST /api/v1/projects/{id}/purchase", s.handleProjectPurchase)
	s.mux.HandleFunc("POST /api/v1/projects/{id}/expenses", s.handleProjectExpense)
}

// staffForProjects is requireUser and the projects service, refusing
// volunteers (401, then 403, then 503 when the server runs without one).
func (s *Server) staffForProjects(w http.ResponseWriter, r *http.Request) (*hotline.User, Projects) {
	u, _ := requireUser(w, r)
	if u == nil {
		return nil, nil
	}
	if u.Role == hotline.RoleVolunteer {
		Error(w, r, hotline.Errorf(hotline.EFORBIDDEN, "volunteers have no access to the needs projects"))
		return nil, nil
	}
	if s.Projects == nil {
		Error(w, r, hotline.Errorf(hotline.EUNAVAILABLE, "the needs projects are not available"))
		return nil, nil
	}
	return u, s.Projects
}

// projectOut is the answer of every call that changes one project.
type projectOut struct {
	Project *hotline.Project `json:"project"`
}

// parseProjectFilter reads status (a comma list) and year of the list and
// export queries.
func parseProjectFilter(r *http.Request) (hotline.ProjectFilter, error) {
	q := r.URL.Query()
	fe := hotline.FieldErrors{}
	var f hotline.ProjectFilter
	if st := strings.TrimSpace(q.Get("status")); st != "" {
		for _, x := range strings.Split(st, ",") {
			status := hotline.ProjectStatus(strings.TrimSpace(x))
			if !status.Valid() {
				fe.Add("status", "unknown status; use a comma list of draft, proposal, purchased, rejected, merged, retired")
				break
			}
			f.Statuses = append(f.Statuses, status)
		}
	}
	if v := strings.TrimSpace(q.Get("year")); v != "" {
		y, err := strconv.Atoi(v)
		if err != nil || y < 2000 || y > 2100 {
			fe.Add("year", "use a year like 2027")
		}
		f.Year = y
	}
	return f, fe.Err()
}

func (s *Server) handleProjectList(w http.ResponseWriter, r *http.Request) {
	u, ps := s.staffForProjects(w, r)
	if u == nil {
		return
	}
	f, err := parseProjectFilter(r)
	if err != nil {
		Error(w, r, err)
		return
	}
	list, err := ps.List(r.Context(), u, f)
	if err != nil {
		Error(w, r, err)
		return
	}
	if list == nil {
		list = []*hotline.Project{}
	}
	writeJSON(w, http.StatusOK, struct {
		Projects []*hotline.Project `json:"projects"`
	}{list})
}

// handleProjectRun answers the grouping job's last run, null when it has
// not run yet (the list page says so rather than showing an error).
func (s *Server) handleProjectRun(w http.ResponseWriter, r *http.Request) {
	u, ps := s.staffForProjects(w, r)
	if u == nil {
		return
	}
	run, err := ps.LastRun(r.Context(), u)
	if hotline.ErrorCode(err) == hotline.ENOTFOUND {
		run, err = nil, nil
	}
	if err != nil {
		Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Run *hotline.GroupingRun `json:"run"`
	}{run})
}

// handleProjectTerms answers the coded terms of the proposal form with
// their Chinese and English names. It needs no service: the terms are the
// domain's.
func (s *Server) handleProjectTerms(w http.ResponseWriter, r *http.Request) {
	u, _ := requireUser(w, r)
	if u == nil {
		return
	}
	if u.Role == hotline.RoleVolunteer {
		Error(w, r, hotline.Errorf(hotline.EFORBIDDEN, "volunteers have no access to the needs projects"))
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Populations []hotline.ProjectTerm   `json:"populations"`
		OrgKinds    []hotline.ProjectTerm   `json:"org_kinds"`
		Statuses    []hotline.ProjectStatus `json:"statuses"`
	}{hotline.Populations, hotline.OrgKinds, hotline.ProjectStatuses})
}

func (s *Server) handleProjectGet(w http.ResponseWriter, r *http.Request) {
	u, ps := s.staffForProjects(w, r)
	if u == nil {
		return
	}
	p, err := ps.Get(r.Context(), u, r.PathValue("id"))
	if err != nil {
		Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, projectOut{p})
}

func (s *Server) handleProjectEvaluation(w http.ResponseWriter, r *http.Request) {
	u, ps := s.staffForProjects(w, r)
	if u == nil {
		return
	}
	ev, err := ps.Evaluate(r.Context(), u, r.PathValue("id"))
	if err != nil {
		Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Evaluation *hotline.Evaluation `json:"evaluation"`
	}{ev})
}

// ---- changes ----

// optString reads a string member that may be absent (nil: leave the field
// as it is); present, it is trimmed and at most max characters.
func optString(m map[string]json.RawMessage, name string, max int, fe hotline.FieldErrors) *string {
	raw, ok := m[name]
	if !ok || isNull(raw) {
		return nil
	}
	s := strings.TrimSpace(stringField(m, name, fe))
	if utf8.RuneCountInString(s) > max {
		fe.Add(name, fmt.Sprintf("must be at most %d characters", max))
	}
	return &s
}

// countField reads a whole number, given as a number or as a numeric
// string (what a form's number input sends), within [lo, hi]. nil when
// absent, null or "".
func countField(m map[string]json.RawMessage, name string, lo, hi int64, fe hotline.FieldErrors) *int64 {
	raw, ok := m[name]
	if !ok || isNull(raw) {
		return nil
	}
	var n json.Number
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s = strings.TrimSpace(s); s == "" {
			return nil
		}
		n = json.Number(s)
	} else if json.Unmarshal(raw, &n) != nil {
		fe.Add(name, fmt.Sprintf("must be a whole number from %d to %d", lo, hi))
		return nil
	}
	v, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil {
		// 480.0 is still a whole number.
		f, ferr := strconv.ParseFloat(n.String(), 64)
		if ferr != nil || f != math.Trunc(f) || math.Abs(f) > float64(hi)+1 {
			fe.Add(name, fmt.Sprintf("must be a whole number from %d to %d", lo, hi))
			return nil
		}
		v = int64(f)
	}
	if v < lo || v > hi {
		fe.Add(name, fmt.Sprintf("must be a whole number from %d to %d", lo, hi))
		return nil
	}
	return &v
}

// yuanField reads an amount of yuan, at least min (0 or more) and at most
// maxProjectYuan, rounded to the fen. nil when absent.
func yuanField(m map[string]json.RawMessage, name string, positive bool, fe hotline.FieldErrors) *float64 {
	sub := hotline.FieldErrors{}
	f := floatField(m, name, sub)
	if len(sub) > 0 {
		fe.Add(name, "must be an amount of yuan, like 12000 or 99.50")
		return nil
	}
	if f == nil {
		return nil
	}
	v := math.Round(*f*100) / 100
	switch {
	case positive && v <= 0:
		fe.Add(name, "must be more than 0 yuan")
		return nil
	case v < 0:
		fe.Add(name, "must not be negative")
		return nil
	case v > maxProjectYuan:
		fe.Add(name, "must be at most 100,000,000 yuan")
		return nil
	}
	return &v
}

// dateField reads a date YYYY-MM-DD, the day starting in Shanghai (an
// RFC 3339 time is taken as given). Zero when absent or "".
func dateField(m map[string]json.RawMessage, name string, fe hotline.FieldErrors) time.Time {
	sub := hotline.FieldErrors{}
	v := stringField(m, name, sub)
	if len(sub) > 0 {
		fe.Add(name, "use a date like 2027-01-01")
		return time.Time{}
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}
	}
	if d, err := time.ParseInLocation(time.DateOnly, v, shanghai); err == nil {
		return d
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t
	}
	fe.Add(name, "use a date like 2027-01-01")
	return time.Time{}
}

func knownTerm(terms []hotline.ProjectTerm, code string) bool {
	for _, t := range terms {
		if t.Code == code {
			return true
		}
	}
	return false
}

func termCodes(terms []hotline.ProjectTerm) string {
	codes := make([]string, len(terms))
	for i, t := range terms {
		codes[i] = t.Code
	}
	return strings.Join(codes, ", ")
}

// parseProposalEdit reads the proposal form. Members left out are left as
// they are; what is sent is checked for its shape here (types, ranges,
// known codes) and for what a proposal needs by the service.
func parseProposalEdit(m map[string]json.RawMessage) (hotline.ProposalEdit, error) {
	fe := hotline.FieldErrors{}
	e := hotline.ProposalEdit{
		TitleZH:      optString(m, "title_zh", maxProjectTitle, fe),
		TitleEN:      optString(m, "title_en", maxProjectTitle, fe),
		SummaryZH:    optString(m, "summary_zh", maxProjectText, fe),
		SummaryEN:    optString(m, "summary_en", maxProjectText, fe),
		Objectives:   optString(m, "objectives", maxProjectText, fe),
		Population:   optString(m, "population", maxProjectNote, fe),
		Organization: optString(m, "organization", maxProjectNote, fe),
		OrgKind:      optString(m, "org_kind", maxProjectNote, fe),
		Budget:       yuanField(m, "budget", false, fe),
	}
	if e.TitleZH != nil && *e.TitleZH == "" {
		fe.Add("title_zh", "give the project a Chinese title")
	}
	if e.Population != nil && *e.Population != "" && !knownTerm(hotline.Populations, *e.Population) {
		fe.Add("population", "choose one of "+termCodes(hotline.Populations))
	}
	if e.OrgKind != nil && *e.OrgKind != "" && !knownTerm(hotline.OrgKinds, *e.OrgKind) {
		fe.Add("org_kind", "choose one of "+termCodes(hotline.OrgKinds))
	}
	if v := countField(m, "target_person_times", 0, maxPersonTimes, fe); v != nil {
		n := int(*v)
		e.TargetPersonTimes = &n
	}
	if v := countField(m, "version", 0, math.MaxInt64, fe); v != nil {
		e.Version = *v
	}
	return e, fe.Err()
}

func (s *Server) handleProjectPropose(w http.ResponseWriter, r *http.Request) {
	u, ps := s.staffForProjects(w, r)
	if u == nil {
		return
	}
	m, err := readJSONObject(r)
	if err != nil {
		Error(w, r, err)
		return
	}
	e, err := parseProposalEdit(m)
	if err != nil {
		Error(w, r, err)
		return
	}
	p, err := ps.Propose(r.Context(), u, r.PathValue("id"), e)
	if err != nil {
		Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, projectOut{p})
}

func (s *Server) handleProjectReject(w http.ResponseWriter, r *http.Request) {
	u, ps := s.staffForProjects(w, r)
	if u == nil {
		return
	}
	m, err := readJSONObject(r)
	if err != nil {
		Error(w, r, err)
		return
	}
	fe := hotline.FieldErrors{}
	reason := optString(m, "reason", maxProjectNote, fe)
	if len(fe) == 0 && (reason == nil || *reason == "") {
		fe.Add("reason", "say why the draft is set aside")
	}
	if err := fe.Err(); err != nil {
		Error(w, r, err)
		return
	}
	p, err := ps.Reject(r.Context(), u, r.PathValue("id"), *reason)
	if err != nil {
		Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, projectOut{p})
}

// idList reads a list of ids: at least one, no more than maxProjectIDs,
// each once, in the order given.
func idList(m map[string]json.RawMessage, name, none string, fe hotline.FieldErrors) []string {
	ids := stringsField(m, name, fe)
	if _, bad := fe[name]; bad {
		return nil
	}
	out := make([]string, 0, len(ids))
	seen := map[string]bool{}
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	switch {
	case len(out) == 0:
		fe.Add(name, none)
	case len(out) > maxProjectIDs:
		fe.Add(name, fmt.Sprintf("at most %d at a time", maxProjectIDs))
	}
	return out
}

func (s *Server) handleProjectMerge(w http.ResponseWriter, r *http.Request) {
	u, ps := s.staffForProjects(w, r)
	if u == nil {
		return
	}
	m, err := readJSONObject(r)
	if err != nil {
		Error(w, r, err)
		return
	}
	into := r.PathValue("id")
	fe := hotline.FieldErrors{}
	ids := idList(m, "ids", "choose the drafts to merge into this one", fe)
	for _, id := range ids {
		if id == into {
			fe.Add("ids", "a project cannot be merged into itself; leave "+into+" out of the list")
		}
	}
	if err := fe.Err(); err != nil {
		Error(w, r, err)
		return
	}
	p, err := ps.Merge(r.Context(), u, into, ids)
	if err != nil {
		Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, projectOut{p})
}

// handleProjectSplit answers 201: the split-off tickets make a new draft.
func (s *Server) handleProjectSplit(w http.ResponseWriter, r *http.Request) {
	u, ps := s.staffForProjects(w, r)
	if u == nil {
		return
	}
	m, err := readJSONObject(r)
	if err != nil {
		Error(w, r, err)
		return
	}
	fe := hotline.FieldErrors{}
	ids := idList(m, "ticket_ids", "choose the tickets to move into a new draft", fe)
	if err := fe.Err(); err != nil {
		Error(w, r, err)
		return
	}
	kept, split, err := ps.Split(r.Context(), u, r.PathValue("id"), ids)
	if err != nil {
		Error(w, r, err)
		return
	}
	if split != nil {
		w.Header().Set("Location", "/api/v1/projects/"+split.ID)
	}
	writeJSON(w, http.StatusCreated, struct {
		Project *hotline.Project `json:"project"`
		Split   *hotline.Project `json:"split"`
	}{kept, split})
}

func (s *Server) handleProjectPurchase(w http.ResponseWriter, r *http.Request) {
	u, ps := s.staffForProjects(w, r)
	if u == nil {
		return
	}
	m, err := readJSONObject(r)
	if err != nil {
		Error(w, r, err)
		return
	}
	fe := hotline.FieldErrors{}
	org := optString(m, "organization", maxProjectNote, fe)
	budget := yuanField(m, "budget", true, fe)
	start := dateField(m, "start", fe)
	end := dateField(m, "end", fe)
	target := countField(m, "target_person_times", 1, maxPersonTimes, fe)
	if org == nil || *org == "" {
		fe.Add("organization", "choose the organization that won the project")
	}
	if budget == nil {
		fe.Add("budget", "give the budget bought, in yuan")
	}
	if _, bad := fe["start"]; !bad && start.IsZero() {
		fe.Add("start", "give the first day, like 2027-01-01")
	}
	if _, bad := fe["end"]; !bad && end.IsZero() {
		fe.Add("end", "give the last day, like 2027-12-31")
	}
	if !start.IsZero() && !end.IsZero() && !end.After(start) {
		fe.Add("end", "must be after the start")
	}
	if target == nil {
		fe.Add("target_person_times", "give the person-times the organization is to serve")
	}
	if err := fe.Err(); err != nil {
		Error(w, r, err)
		return
	}
	p, err := ps.Purchase(r.Context(), u, r.PathValue("id"), hotline.Purchase{
		Organization: *org, Budget: *budget, Start: start, End: end, TargetPersonTimes: int(*target),
	})
	if err != nil {
		Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, projectOut{p})
}

// handleProjectExpense records spending; without "at" it is today.
func (s *Server) handleProjectExpense(w http.ResponseWriter, r *http.Request) {
	u, ps := s.staffForProjects(w, r)
	if u == nil {
		return
	}
	m, err := readJSONObject(r)
	if err != nil {
		Error(w, r, err)
		return
	}
	fe := hotline.FieldErrors{}
	amount := yuanField(m, "amount", true, fe)
	note := optString(m, "note", maxProjectNote, fe)
	at := dateField(m, "at", fe)
	if amount == nil {
		fe.Add("amount", "give the amount spent, in yuan")
	}
	if note == nil || *note == "" {
		fe.Add("note", "say what the money was spent on")
	}
	if err := fe.Err(); err != nil {
		Error(w, r, err)
		return
	}
	if at.IsZero() {
		at = time.Now()
	}
	p, err := ps.AddExpense(r.Context(), u, r.PathValue("id"), hotline.Expense{At: at, Amount: *amount, Note: *note, By: u.ID})
	if err != nil {
		Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, projectOut{p})
}

// ---- exports ----

// export is one document format of package report.
type export struct {
	ext, contentType string
	project          func(io.Writer, *hotline.Project, hotline.Directory) error
	year             func(io.Writer, int, []*hotline.Project, hotline.Directory) error
}

var (
	xlsxExport = export{"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
		report.ProposalXLSX, report.YearXLSX}
	markdownExport = export{"md", "text/markdown; charset=utf-8", report.ProposalMarkdown, report.YearMarkdown}
)

// writeDownload answers a file download built in memory first, so that a
// failure is still answered in the error shape instead of a cut-off file.
// name is the file's ASCII name; utf8Name, when set, is a fuller one in
// any script (RFC 6266 filename*), which browsers prefer.
func writeDownload(w http.ResponseWriter, r *http.Request, contentType, name, utf8Name string, fill func(io.Writer) error) {
	var buf bytes.Buffer
	if err := fill(&buf); err != nil {
		Error(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	cd := `attachment; filename="` + name + `"`
	if utf8Name != "" && utf8Name != name {
		cd += "; filename*=UTF-8''" + rfc5987(utf8Name)
	}
	h.Set("Content-Disposition", cd)
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	_, _ = w.Write(buf.Bytes())
}

// rfc5987 percent-encodes every byte of s but letters, digits and -._ .
func rfc5987(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x80 && (c == '-' || c == '.' || c == '_' || unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c))) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// fileTitle keeps a title's letters, digits and dashes (spaces become
// dashes) for a file name, at most 40 characters.
func fileTitle(s string) string {
	var b strings.Builder
	n, dash := 0, false
	for _, c := range strings.TrimSpace(s) {
		if n >= 40 {
			break
		}
		switch {
		case unicode.IsLetter(c) || unicode.IsDigit(c):
			b.WriteRune(c)
			n, dash = n+1, false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			n, dash = n+1, true
		}
	}
	return strings.TrimRight(b.String(), "-")
}

// asciiName keeps the ASCII letters, digits and dashes of an id.
func asciiName(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c < 0x80 && (c == '-' || unicode.IsLetter(c) || unicode.IsDigit(c)) {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// handleProjectExport downloads one project: project-P7.xlsx, or, where
// the browser reads filename*, P7-独居老人上门探访.xlsx.
func (s *Server) handleProjectExport(x export) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, ps := s.staffForProjects(w, r)
		if u == nil {
			return
		}
		p, err := ps.Get(r.Context(), u, r.PathValue("id"))
		if err != nil {
			Error(w, r, err)
			return
		}
		id := asciiName(p.ID)
		full := id
		if t := fileTitle(p.TitleZH); t != "" {
			full += "-" + t
		}
		writeDownload(w, r, x.contentType, "project-"+id+"."+x.ext, full+"."+x.ext,
			func(out io.Writer) error { return x.project(out, p, s.Directory) })
	}
}

// exportStatuses are what a year's export holds unless the query says:
// the projects in play, not those set aside, merged away or retired.
var exportStatuses = []hotline.ProjectStatus{hotline.ProjectDraft, hotline.ProjectProposal, hotline.ProjectPurchased}

// handleProjectYearExport downloads the projects of ?year= (required) and
// ?status= (by default exportStatuses): projects-2027.xlsx.
func (s *Server) handleProjectYearExport(x export) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, ps := s.staffForProjects(w, r)
		if u == nil {
			return
		}
		f, err := parseProjectFilter(r)
		if err == nil && f.Year == 0 {
			err = fieldError("year", "choose the year to export, like 2027")
		}
		if err != nil {
			Error(w, r, err)
			return
		}
		if len(f.Statuses) == 0 {
			f.Statuses = exportStatuses
		}
		list, err := ps.List(r.Context(), u, f)
		if err != nil {
			Error(w, r, err)
			return
		}
		name := fmt.Sprintf("projects-%d.%s", f.Year, x.ext)
		writeDownload(w, r, x.contentType, name, fmt.Sprintf("%d年度社区服务项目.%s", f.Year, x.ext),
			func(out io.Writer) error { return x.year(out, f.Year, list, s.Directory) })
	}
}
