package hotline

import (
	"context"
	"time"
)

// Needs discovery to evaluation (docs/projects.md): every night the
// grouping job reads a rolling window of tickets, groups the recurring
// needs and writes one draft annual service project per group; social
// workers edit drafts into proposals, the street buys proposals as
// projects from social organizations, and purchased projects are
// evaluated on the case study's four dimensions.

// NeedRecord is what grouping reads of one ticket: the anonymous facts,
// never the resident's contact. ResidentKey stands for the resident (a
// keyed hash of their phone, "" when unknown) so that distinct residents
// can be counted without holding who they are.
type NeedRecord struct {
	TicketID     string    `json:"ticket_id"`
	ServiceCode  string    `json:"service_code"`
	Description  string    `json:"description"`
	Language     string    `json:"language,omitempty"`
	Committee    string    `json:"committee,omitempty"`
	Lat          float64   `json:"lat,omitempty"`
	Long         float64   `json:"long,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	ResolvedAt   time.Time `json:"resolved_at,omitzero"`
	ResidentKey  string    `json:"resident_key,omitempty"`
	Status       Status    `json:"status"`
	UnitID       string    `json:"unit_id,omitempty"`
	Tier         Tier      `json:"tier,omitempty"`
	Escalations  int       `json:"escalations,omitempty"`
	Overdue      bool      `json:"overdue,omitempty"`
	Redo         bool      `json:"redo,omitempty"`
	Satisfaction int       `json:"satisfaction,omitempty"`
	// MergedInto is set on a duplicate merged into another ticket: the
	// incident counts once, as the ticket it was merged into.
	MergedInto string `json:"merged_into,omitempty"`
}

// NeedSource streams the NeedRecords of the tickets created in [from, to),
// in no particular order, calling fn for each; fn's error stops the scan
// and is returned. Errors: EUNAVAILABLE.
type NeedSource interface {
	ScanNeeds(ctx context.Context, from, to time.Time, fn func(NeedRecord) error) error
}

// ProjectStatus is where a project stands:
//
//	draft (the nightly job's) → proposal (a social worker's) → purchased
//	draft → rejected | merged (into another draft or proposal)
//	draft → retired (its need stopped recurring; the job's)
//
// Only drafts are ever written by the job; every other status belongs to
// people and is never overwritten by it.
type ProjectStatus string

const (
	ProjectDraft     ProjectStatus = "draft"
	ProjectProposal  ProjectStatus = "proposal"
	ProjectPurchased ProjectStatus = "purchased"
	ProjectRejected  ProjectStatus = "rejected"
	ProjectMerged    ProjectStatus = "merged"
	ProjectRetired   ProjectStatus = "retired"
)

// ProjectStatuses lists every status in lifecycle order.
var ProjectStatuses = []ProjectStatus{ProjectDraft, ProjectProposal, ProjectPurchased,
	ProjectRejected, ProjectMerged, ProjectRetired}

// Valid reports whether s is a known status.
func (s ProjectStatus) Valid() bool {
	for _, x := range ProjectStatuses {
		if s == x {
			return true
		}
	}
	return false
}

// Trend says how a draft's group changed since the previous run.
type Trend string

const (
	TrendNew       Trend = "new"
	TrendGrowing   Trend = "growing"
	TrendSteady    Trend = "steady"
	TrendShrinking Trend = "shrinking"
)

// MonthCount is the tickets of one month ("2026-03").
type MonthCount struct {
	Month string `json:"month"`
	Count int    `json:"count"`
}

// CommitteeCount is the tickets located in one committee's area.
type CommitteeCount struct {
	Committee string `json:"committee"`
	Count     int    `json:"count"`
}

// Evidence is what a draft stands on: the group's tickets, counted.
type Evidence struct {
	// Tickets counts incidents (merged duplicates once); Residents the
	// distinct residents who reported them (those with a known number).
	Tickets    int              `json:"tickets"`
	Residents  int              `json:"residents"`
	Months     []MonthCount     `json:"months"`     // oldest first, every month of the window
	Committees []CommitteeCount `json:"committees"` // most tickets first
	// EscalatedShare is the share of tickets moved up a tier or overdue;
	// UnresolvedShare the share still open or cancelled.
	EscalatedShare  float64 `json:"escalated_share"`
	UnresolvedShare float64 `json:"unresolved_share"`
	// Satisfaction is the mean rating (1..5) of the Rated tickets, 0 when none.
	Satisfaction float64 `json:"satisfaction"`
	Rated        int     `json:"rated"`
	// Examples are a few descriptions with names, numbers and door
	// numbers taken out.
	Examples []string `json:"examples"`
	// Keywords are the words the group's descriptions share most.
	Keywords []string `json:"keywords"`
	// TicketIDs are the group's tickets (staff may open them; the next
	// run recognises the group by them).
	TicketIDs []string `json:"ticket_ids"`
}

// Purchase is what the street bought: a proposal run by an organization.
type Purchase struct {
	// Organization is the unit id of the social organization that won it.
	Organization      string    `json:"organization"`
	Budget            float64   `json:"budget"` // yuan
	Start             time.Time `json:"start"`
	End               time.Time `json:"end"`
	TargetPersonTimes int       `json:"target_person_times"`
	Expenses          []Expense `json:"expenses,omitempty"`
}

// Expense is spending recorded against a purchased project's budget.
type Expense struct {
	At     time.Time `json:"at"`
	Amount float64   `json:"amount"` // yuan
	Note   string    `json:"note"`
	By     string    `json:"by"`
}

// Project is a draft annual service project, a proposal made of one, or a
// purchased project.
type Project struct {
	ID     string        `json:"id"`
	Status ProjectStatus `json:"status"`
	// Year is the year the project is planned for (the year after the run).
	Year int `json:"year"`

	TitleZH   string `json:"title_zh"`
	TitleEN   string `json:"title_en"`
	SummaryZH string `json:"summary_zh"`
	SummaryEN string `json:"summary_en"`
	// ServiceCode is the catalogue category of the need.
	ServiceCode string `json:"service_code"`
	// Population is the people it serves: a code of Populations.
	Population string   `json:"population"`
	Committees []string `json:"committees"`
	Evidence   Evidence `json:"evidence"`

	// PersonTimes is the estimated person-times for the year; Budget is
	// PersonTimes × CostPerPersonTime, in yuan.
	PersonTimes       int     `json:"person_times"`
	CostPerPersonTime float64 `json:"cost_per_person_time"`
	Budget            float64 `json:"budget"`
	// OrgKind is the kind of social organization that could run it: a
	// code of OrgKinds.
	OrgKind string `json:"org_kind"`

	// Trend and PreviousTickets compare with the previous run (drafts).
	Trend           Trend `json:"trend,omitempty"`
	PreviousTickets int   `json:"previous_tickets,omitempty"`

	// A proposal's own fields, set by social workers.
	Objectives        string `json:"objectives,omitempty"`
	TargetPersonTimes int    `json:"target_person_times,omitempty"`
	Organization      string `json:"organization,omitempty"` // unit id or a name
	RejectReason      string `json:"reject_reason,omitempty"`
	// MergedInto is the project a merged draft went into; MergedFrom the
	// drafts merged into this one; SplitFrom the draft this was split off.
	MergedInto string   `json:"merged_into,omitempty"`
	MergedFrom []string `json:"merged_from,omitempty"`
	SplitFrom  string   `json:"split_from,omitempty"`

	Purchase *Purchase `json:"purchase,omitempty"`

	// GeneratedAt is the run that last wrote the draft's evidence.
	GeneratedAt time.Time `json:"generated_at,omitzero"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	UpdatedBy   string    `json:"updated_by,omitempty"`
	Version     int64     `json:"version"`
}

// ProjectFilter selects projects. Zero fields do not filter.
type ProjectFilter struct {
	Statuses []ProjectStatus
	Year     int
}

// ProjectChange is one change to a project, applied by
// ProjectStore.UpdateProject on a fresh copy; it may run more than once.
type ProjectChange func(p *Project) error

// GroupingRun is the record of one run of the grouping job.
type GroupingRun struct {
	ID       string    `json:"id"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	From     time.Time `json:"from"` // the window read
	To       time.Time `json:"to"`
	// Tickets read, groups found, recurring groups (drafts written), and
	// drafts new, continued and retired; Kept counts the projects people
	// own (proposals, purchased, rejected, merged) that a recurring group
	// matched, so the run wrote no draft for it.
	Tickets   int    `json:"tickets"`
	Groups    int    `json:"groups"`
	Recurring int    `json:"recurring"`
	New       int    `json:"new"`
	Continued int    `json:"continued"`
	Retired   int    `json:"retired"`
	Kept      int    `json:"kept"`
	Trigger   string `json:"trigger"` // "cron" or "manual"
}

// ProjectStore keeps projects and the record of grouping runs.
type ProjectStore interface {
	// CreateProject stores p with a new ID ("P" and a number) and
	// Version 1. Errors: EINVALID, EUNAVAILABLE.
	CreateProject(ctx context.Context, p *Project) error
	// FindProject. Errors: ENOTFOUND, EUNAVAILABLE.
	FindProject(ctx context.Context, id string) (*Project, error)
	// FindProjects lists projects, newest first. Errors: EUNAVAILABLE.
	FindProjects(ctx context.Context, f ProjectFilter) ([]*Project, error)
	// UpdateProject applies change under optimistic locking. Errors:
	// ENOTFOUND, ECONFLICT, whatever change returns, EUNAVAILABLE.
	UpdateProject(ctx context.Context, id string, change ProjectChange) (*Project, error)
	// SaveDraft writes the job's draft: a new one (ID "") is created; an
	// existing one is replaced only while its stored status is still
	// ProjectDraft (or ProjectRetired, which it revives), so a draft a
	// social worker turned into a proposal, rejected or merged meanwhile
	// is left untouched: written reports which. Errors: EUNAVAILABLE.
	SaveDraft(ctx context.Context, p *Project) (written bool, err error)
	// SaveRun records a grouping run; LastRun returns the newest (ENOTFOUND
	// when none).
	SaveRun(ctx context.Context, r *GroupingRun) error
	LastRun(ctx context.Context) (*GroupingRun, error)
}

// ProjectTerm is a coded term of projects, named in both languages.
type ProjectTerm struct {
	Code   string `json:"code"`
	NameZH string `json:"name_zh"`
	NameEN string `json:"name_en"`
}

// Populations are the people a project serves.
var Populations = []ProjectTerm{
	{"elderly_alone", "独居老人", "Elderly people living alone"},
	{"elderly", "老年人", "Elderly people"},
	{"disabled", "残障人士", "People with disabilities"},
	{"children", "儿童青少年", "Children and young people"},
	{"families", "困难家庭", "Families in hardship"},
	{"residents", "社区居民", "Residents"},
}

// OrgKinds are the kinds of social organization that run projects.
var OrgKinds = []ProjectTerm{
	{"elderly_care", "为老服务机构", "Elderly-care organization"},
	{"social_work", "社工服务机构", "Social-work agency"},
	{"legal_aid", "法律服务机构", "Legal-aid organization"},
	{"health", "医疗卫生服务机构", "Health-care organization"},
	{"disability", "助残服务机构", "Disability-service organization"},
	{"youth", "青少年服务机构", "Youth-service organization"},
	{"repair", "维修与物业服务", "Repair and property services"},
	{"community", "社区发展类组织", "Community-development organization"},
}

// TermName is the name of code among terms in lang ("en" or Chinese),
// code itself when unknown.
func TermName(terms []ProjectTerm, code, lang string) string {
	for _, t := range terms {
		if t.Code == code {
			if lang == "en" {
				return t.NameEN
			}
			return t.NameZH
		}
	}
	return code
}

// ProposalEdit is what a social worker sets when editing a draft into a
// proposal (or a proposal again). Nil fields are left as they are.
type ProposalEdit struct {
	TitleZH           *string  `json:"title_zh,omitempty"`
	TitleEN           *string  `json:"title_en,omitempty"`
	SummaryZH         *string  `json:"summary_zh,omitempty"`
	SummaryEN         *string  `json:"summary_en,omitempty"`
	Objectives        *string  `json:"objectives,omitempty"`
	Population        *string  `json:"population,omitempty"`
	TargetPersonTimes *int     `json:"target_person_times,omitempty"`
	Budget            *float64 `json:"budget,omitempty"`
	Organization      *string  `json:"organization,omitempty"`
	OrgKind           *string  `json:"org_kind,omitempty"`
	// Version, when not 0, must be the stored version (ECONFLICT if not):
	// the page sends the version it showed, so two editors do not
	// overwrite each other unseen.
	Version int64 `json:"version,omitempty"`
}

// Evaluation is a purchased project measured on the case study's four
// dimensions, each scored 0..100, and the payment tranche they suggest.
type Evaluation struct {
	ProjectID string    `json:"project_id"`
	At        time.Time `json:"at"`

	// Execution progress: person-times served (tickets of the project's
	// category and committees resolved by its organization within its
	// period) against the target, and the share of the period elapsed.
	PersonTimes       int     `json:"person_times"`
	TargetPersonTimes int     `json:"target_person_times"`
	Progress          float64 `json:"progress"`     // PersonTimes / TargetPersonTimes
	TimeElapsed       float64 `json:"time_elapsed"` // 0..1
	ExecutionScore    float64 `json:"execution_score"`

	// Implementation quality: residents' satisfaction and redo tickets
	// (reopened after a low rating).
	Tickets      int     `json:"tickets"`
	Satisfaction float64 `json:"satisfaction"` // mean 1..5, 0 when none rated
	Rated        int     `json:"rated"`
	Redo         int     `json:"redo"`
	QualityScore float64 `json:"quality_score"`

	// Financial compliance: spending recorded against the budget, in step
	// with progress.
	Budget       float64 `json:"budget"`
	Spent        float64 `json:"spent"`
	SpentShare   float64 `json:"spent_share"`
	FinanceScore float64 `json:"finance_score"`

	// Project management: time limits met.
	OnTime          int     `json:"on_time"`
	Late            int     `json:"late"`
	ManagementScore float64 `json:"management_score"`

	// Overall is the mean of the four scores; TrancheShare the share of the
	// budget the evaluation supports paying by now, TrancheAmount in yuan;
	// Notes explain it, Chinese then English, one per line.
	Overall       float64  `json:"overall"`
	TrancheShare  float64  `json:"tranche_share"`
	TrancheAmount float64  `json:"tranche_amount"`
	Notes         []string `json:"notes"`
}
