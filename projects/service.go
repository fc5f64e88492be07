// Package projects holds the logic of the annual service projects: who may
// see and change them, the steps people take (propose, reject, merge,
// split, purchase, record spending), the evaluation of a purchased project
// on the case study's four dimensions, and the nightly job that turns a
// year of tickets into draft projects (Job). It talks to storage only
// through the root package's interfaces; docs/projects.md tells the whole
// loop.
package projects

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/caojiadu/hotline"
)

// Service is the projects' logic. Its fields are its dependencies; set
// them before the first call and do not change them afterwards.
type Service struct {
	Store hotline.ProjectStore
	// Needs is read by Evaluate (the tickets of a purchase period) and, when
	// Records is nil, by Split.
	Needs hotline.NeedSource
	// Records reads the need records of given tickets, for Split to
	// re-count both halves' evidence. Nil: Split scans Needs over the
	// months of the project's evidence instead (slower on a large store).
	Records RecordReader
	// Directory hands out the network (committees, organizations).
	Directory hotline.Directory
	// Now is the clock; tests replace it. Nil: time.Now.
	Now func() time.Time
	// Logger reports failures without personal data. Nil: slog.Default.
	Logger *slog.Logger
}

// RecordReader reads the need records of tickets by id, leaving out those
// not found (redisstore.TicketStore.NeedRecords). Errors: EUNAVAILABLE.
type RecordReader interface {
	NeedRecords(ctx context.Context, ids []string) ([]hotline.NeedRecord, error)
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// CanManage reports whether u decides on projects: edits drafts into
// proposals, rejects, merges, splits, records a purchase and its spending.
// Social workers do the needs analysis; administrators run the street.
func CanManage(u *hotline.User) bool {
	return u != nil && (u.Role == hotline.RoleSocialWorker || u.Role == hotline.RoleAdmin)
}

// SeesAll reports whether u sees every project: administrators, social
// workers and dispatchers of the street's service center (or of a unit
// above it), who plan for the whole street.
func SeesAll(u *hotline.User, n *hotline.Network) bool {
	if u == nil {
		return false
	}
	switch u.Role {
	case hotline.RoleAdmin, hotline.RoleSocialWorker:
		return true
	case hotline.RoleDispatcher:
		c, ok := n.ServiceCenter()
		return ok && u.UnitID != "" && n.Within(c.ID, u.UnitID)
	}
	return false
}

// CanSee reports whether u may see p. Beyond SeesAll: committee staff (and
// dispatchers of other units) see the projects covering a committee at or
// below their unit, and a street-wide project (no committees); the staff
// of the organization that won a purchase see that project.
// Volunteers see none.
func CanSee(u *hotline.User, n *hotline.Network, p *hotline.Project) bool {
	if u == nil || p == nil || u.Role == hotline.RoleVolunteer {
		return false
	}
	if SeesAll(u, n) {
		return true
	}
	if u.UnitID == "" {
		return false
	}
	if p.Purchase != nil && p.Purchase.Organization != "" && n.Within(p.Purchase.Organization, u.UnitID) {
		return true
	}
	if len(p.Committees) == 0 {
		return u.Role == hotline.RoleCommittee
	}
	for _, c := range p.Committees {
		if n.Within(c, u.UnitID) {
			return true
		}
	}
	return false
}

// mayRead refuses those who may see no project at all.
func mayRead(u *hotline.User) error {
	switch {
	case u == nil:
		return hotline.Errorf(hotline.EUNAUTHORIZED, "please sign in")
	case u.Role == hotline.RoleVolunteer:
		return hotline.Errorf(hotline.EFORBIDDEN, "volunteers do not see service projects")
	}
	return nil
}

func mayManage(u *hotline.User) error {
	switch {
	case u == nil:
		return hotline.Errorf(hotline.EUNAUTHORIZED, "please sign in")
	case !CanManage(u):
		return hotline.Errorf(hotline.EFORBIDDEN, "only social workers and administrators change service projects")
	}
	return nil
}

func projectNotFound(id string) error {
	return hotline.Errorf(hotline.ENOTFOUND, "no project %s", id)
}

// List returns the projects matching f that u may see, newest first.
// Errors: EUNAUTHORIZED, EFORBIDDEN (volunteers), EINVALID (an unknown
// status), EUNAVAILABLE.
func (s *Service) List(ctx context.Context, u *hotline.User, f hotline.ProjectFilter) ([]*hotline.Project, error) {
	if err := mayRead(u); err != nil {
		return nil, err
	}
	for _, st := range f.Statuses {
		if !st.Valid() {
			return nil, hotline.Errorf(hotline.EINVALID, "unknown project status %q", st)
		}
	}
	ps, err := s.Store.FindProjects(ctx, f)
	if err != nil {
		return nil, err
	}
	n := s.Directory.Network()
	out := ps[:0]
	for _, p := range ps {
		if CanSee(u, n, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// Get returns a project u may see. Errors: EUNAUTHORIZED, EFORBIDDEN
// (volunteers), ENOTFOUND (also when u may not see it), EUNAVAILABLE.
func (s *Service) Get(ctx context.Context, u *hotline.User, id string) (*hotline.Project, error) {
	if err := mayRead(u); err != nil {
		return nil, err
	}
	p, err := s.Store.FindProject(ctx, id)
	if err != nil {
		return nil, err
	}
	if !CanSee(u, s.Directory.Network(), p) {
		return nil, projectNotFound(id)
	}
	return p, nil
}

// LastRun returns the grouping job's last run. Errors: EUNAUTHORIZED,
// EFORBIDDEN (volunteers), ENOTFOUND (never ran), EUNAVAILABLE.
func (s *Service) LastRun(ctx context.Context, u *hotline.User) (*hotline.GroupingRun, error) {
	if err := mayRead(u); err != nil {
		return nil, err
	}
	return s.Store.LastRun(ctx)
}

// editable is the statuses people still shape: a draft or a proposal.
func editable(st hotline.ProjectStatus) bool {
	return st == hotline.ProjectDraft || st == hotline.ProjectProposal
}

func notEditable(p *hotline.Project) error {
	return hotline.Errorf(hotline.ECONFLICT, "project %s is %s: only drafts and proposals can be changed", p.ID, p.Status)
}

func knownTerm(terms []hotline.ProjectTerm, code string) bool {
	return slices.ContainsFunc(terms, func(t hotline.ProjectTerm) bool { return t.Code == code })
}

func termCodes(terms []hotline.ProjectTerm) string {
	cs := make([]string, len(terms))
	for i, t := range terms {
		cs[i] = t.Code
	}
	return strings.Join(cs, ", ")
}

// checkEdit refuses an edit that would leave the proposal unusable.
func checkEdit(e hotline.ProposalEdit) error {
	fe := hotline.FieldErrors{}
	if e.TitleZH != nil && strings.TrimSpace(*e.TitleZH) == "" {
		fe.Add("title_zh", "a proposal needs a Chinese title")
	}
	if e.TitleEN != nil && strings.TrimSpace(*e.TitleEN) == "" {
		fe.Add("title_en", "a proposal needs an English title")
	}
	if e.TargetPersonTimes != nil && *e.TargetPersonTimes < 0 {
		fe.Add("target_person_times", "must not be negative")
	}
	if e.Budget != nil && !(*e.Budget >= 0) {
		fe.Add("budget", "must be a number of yuan, not negative")
	}
	if e.Population != nil && !knownTerm(hotline.Populations, *e.Population) {
		fe.Add("population", "use one of "+termCodes(hotline.Populations))
	}
	if e.OrgKind != nil && !knownTerm(hotline.OrgKinds, *e.OrgKind) {
		fe.Add("org_kind", "use one of "+termCodes(hotline.OrgKinds))
	}
	return fe.Err()
}

func setTrimmed(dst *string, src *string) {
	if src != nil {
		*dst = strings.TrimSpace(*src)
	}
}

// Propose makes a draft a proposal with e applied, or edits a proposal.
// With e.Version set, the project must still be at that version.
// Errors: EUNAUTHORIZED, EFORBIDDEN (not a social worker or
// administrator), EINVALID, ENOTFOUND, ECONFLICT (changed meanwhile, or
// no longer a draft or proposal), EUNAVAILABLE.
func (s *Service) Propose(ctx context.Context, u *hotline.User, id string, e hotline.ProposalEdit) (*hotline.Project, error) {
	if err := mayManage(u); err != nil {
		return nil, err
	}
	if err := checkEdit(e); err != nil {
		return nil, err
	}
	return s.Store.UpdateProject(ctx, id, func(p *hotline.Project) error {
		if e.Version != 0 && p.Version != e.Version {
			return hotline.Errorf(hotline.ECONFLICT, "project %s was changed by someone else meanwhile (version %d, you edited %d); reload it and try again", p.ID, p.Version, e.Version)
		}
		if !editable(p.Status) {
			return notEditable(p)
		}
		setTrimmed(&p.TitleZH, e.TitleZH)
		setTrimmed(&p.TitleEN, e.TitleEN)
		setTrimmed(&p.SummaryZH, e.SummaryZH)
		setTrimmed(&p.SummaryEN, e.SummaryEN)
		setTrimmed(&p.Objectives, e.Objectives)
		setTrimmed(&p.Organization, e.Organization)
		if e.Population != nil {
			p.Population = *e.Population
		}
		if e.OrgKind != nil {
			p.OrgKind = *e.OrgKind
		}
		if e.TargetPersonTimes != nil {
			p.TargetPersonTimes = *e.TargetPersonTimes
		}
		if e.Budget != nil {
			p.Budget = *e.Budget
		}
		// A draft may have come without titles (a category the job could
		// not describe): a proposal may not.
		fe := hotline.FieldErrors{}
		if p.TitleZH == "" {
			fe.Add("title_zh", "a proposal needs a Chinese title")
		}
		if p.TitleEN == "" {
			fe.Add("title_en", "a proposal needs an English title")
		}
		if err := fe.Err(); err != nil {
			return err
		}
		p.Status = hotline.ProjectProposal
		p.UpdatedBy = u.ID
		return nil
	})
}

// Reject turns a draft or proposal down, saying why. Errors:
// EUNAUTHORIZED, EFORBIDDEN, EINVALID (no reason), ENOTFOUND, ECONFLICT
// (not a draft or proposal), EUNAVAILABLE.
func (s *Service) Reject(ctx context.Context, u *hotline.User, id, reason string) (*hotline.Project, error) {
	if err := mayManage(u); err != nil {
		return nil, err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, hotline.FieldErrors{"reason": "say why the project is rejected"}.Err()
	}
	return s.Store.UpdateProject(ctx, id, func(p *hotline.Project) error {
		if !editable(p.Status) {
			return notEditable(p)
		}
		p.Status = hotline.ProjectRejected
		p.RejectReason = reason
		p.UpdatedBy = u.ID
		return nil
	})
}

// Purchase records that the street bought a proposal from a social
// organization: the proposal becomes a purchased project with the
// organization, budget, period and target of pur (its Expenses are
// ignored: spending is recorded with AddExpense). Errors: EUNAUTHORIZED,
// EFORBIDDEN, EINVALID, ENOTFOUND, ECONFLICT (not a proposal),
// EUNAVAILABLE.
func (s *Service) Purchase(ctx context.Context, u *hotline.User, id string, pur hotline.Purchase) (*hotline.Project, error) {
	if err := mayManage(u); err != nil {
		return nil, err
	}
	pur.Organization = strings.TrimSpace(pur.Organization)
	fe := hotline.FieldErrors{}
	if org, ok := s.Directory.Network().Unit(pur.Organization); !ok || org.Kind != hotline.KindOrganization {
		fe.Add("organization", "give the unit id of a social organization of the network")
	}
	if !(pur.Budget > 0) {
		fe.Add("budget", "must be more than 0 yuan")
	}
	if pur.Start.IsZero() {
		fe.Add("start", "a purchase needs a start date")
	}
	if pur.End.IsZero() || !pur.End.After(pur.Start) {
		fe.Add("end", "must be after the start")
	}
	if pur.TargetPersonTimes <= 0 {
		fe.Add("target_person_times", "must be more than 0")
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	pur.Expenses = nil
	return s.Store.UpdateProject(ctx, id, func(p *hotline.Project) error {
		if p.Status != hotline.ProjectProposal {
			return hotline.Errorf(hotline.ECONFLICT, "project %s is %s: only a proposal can be purchased", p.ID, p.Status)
		}
		c := pur
		p.Purchase = &c
		p.Status = hotline.ProjectPurchased
		p.Organization = pur.Organization
		p.TargetPersonTimes = pur.TargetPersonTimes
		p.UpdatedBy = u.ID
		return nil
	})
}

// AddExpense records spending against a purchased project's budget. At
// defaults to now; By is u. Errors: EUNAUTHORIZED, EFORBIDDEN, EINVALID,
// ENOTFOUND, ECONFLICT (not purchased), EUNAVAILABLE.
func (s *Service) AddExpense(ctx context.Context, u *hotline.User, id string, e hotline.Expense) (*hotline.Project, error) {
	if err := mayManage(u); err != nil {
		return nil, err
	}
	if !(e.Amount > 0) {
		return nil, hotline.FieldErrors{"amount": "must be more than 0 yuan"}.Err()
	}
	if e.At.IsZero() {
		e.At = s.now().UTC()
	}
	e.Note = strings.TrimSpace(e.Note)
	e.By = u.ID
	return s.Store.UpdateProject(ctx, id, func(p *hotline.Project) error {
		if p.Status != hotline.ProjectPurchased || p.Purchase == nil {
			return hotline.Errorf(hotline.ECONFLICT, "project %s is %s: spending is recorded only against a purchased project", p.ID, p.Status)
		}
		p.Purchase.Expenses = append(p.Purchase.Expenses, e)
		p.UpdatedBy = u.ID
		return nil
	})
}
