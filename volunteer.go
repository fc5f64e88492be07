package hotline

import (
	"context"
	"time"
)

// The volunteer registry: the street's professional and neighbourhood
// volunteers, their groups, the tasks they take on tickets and the hours
// they give. Package volunteers holds the rules (registration, matching,
// tasking, hours); redisstore keeps them.

// VolunteerStatus is where a volunteer stands. A self-registration is
// applied; a social worker approves (and classifies) or rejects it; an
// approved volunteer becomes active with their first accepted task, or
// when a social worker activates them; suspended and left take them out
// of matching.
type VolunteerStatus string

const (
	VolunteerApplied   VolunteerStatus = "applied"
	VolunteerApproved  VolunteerStatus = "approved"
	VolunteerActive    VolunteerStatus = "active"
	VolunteerSuspended VolunteerStatus = "suspended"
	VolunteerLeft      VolunteerStatus = "left"
	VolunteerRejected  VolunteerStatus = "rejected"
)

// Matchable reports whether a volunteer in this status may be offered tasks.
func (s VolunteerStatus) Matchable() bool {
	return s == VolunteerApproved || s == VolunteerActive
}

// Qualification is a professional qualification (e.g. "lawyer",
// "counsellor", "nurse", "doctor", "social_worker", "electrician"), with
// its expiry date when it has one.
type Qualification struct {
	Kind    string    `json:"kind"`
	Expires time.Time `json:"expires,omitzero"` // zero: does not expire
}

// Valid reports whether the qualification is in force at t.
func (q Qualification) Valid(t time.Time) bool {
	return q.Expires.IsZero() || t.Before(q.Expires)
}

// Volunteer is one person in the registry.
type Volunteer struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Phone string `json:"phone"` // E.164; masked to all but social workers and their group lead
	// Committee is the home committee (unit id); with no address of their
	// own, the volunteer is placed at its office for distances.
	Committee string  `json:"committee"`
	Address   string  `json:"address,omitempty"`
	Lat       float64 `json:"lat,omitempty"`
	Long      float64 `json:"long,omitempty"`
	// Skills are catalogue category codes the volunteer serves.
	Skills         []string        `json:"skills"`
	Qualifications []Qualification `json:"qualifications,omitempty"`
	// Languages are what the volunteer speaks: "zh" (Mandarin), "en",
	// "wuu" (Shanghainese), "yue" (Cantonese), sign language "csl", …
	Languages []string `json:"languages"`
	// Availability is the weekly time they can serve, in the opening-hours
	// grammar of dispatch ("mon-fri 18:00-21:00; sat 09:00-17:00");
	// empty means any time.
	Availability string `json:"availability,omitempty"`
	// Groups are the ids of the volunteer groups (units of kind
	// volunteer_group in the network) they belong to.
	Groups []string        `json:"groups,omitempty"`
	Status VolunteerStatus `json:"status"`
	// Classification is the social worker's class on approval, e.g.
	// "professional", "skilled", "general", "youth".
	Classification string `json:"classification,omitempty"`
	// MaxTasks bounds the open tasks they are offered at once (0: the
	// registry's default).
	MaxTasks int    `json:"max_tasks,omitempty"`
	Notes    string `json:"notes,omitempty"` // the social worker's
	// Source says how they came: "form", "import", "staff".
	Source    string    `json:"source,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Version   int64     `json:"version"`
}

// VolunteerFilter selects volunteers. Zero fields do not filter.
type VolunteerFilter struct {
	Statuses  []VolunteerStatus
	Committee string
	Group     string
	Skill     string
	Query     string // in the name (or the last digits of the phone)
	Offset    int
	Limit     int // 0: 100; capped at 1000
}

// VolunteerChange changes a volunteer (a fresh copy at the current
// version); it may run several times, so it must have no other effect.
type VolunteerChange func(v *Volunteer) error

// VolunteerStore keeps the registry and its geographic and skill indexes.
type VolunteerStore interface {
	// CreateVolunteer stores v with a new ID (Version 1). A volunteer with
	// the same phone is a conflict: ECONFLICT. Errors: EINVALID, EUNAVAILABLE.
	CreateVolunteer(ctx context.Context, v *Volunteer) error
	// FindVolunteer / FindVolunteerByPhone. Errors: ENOTFOUND, EUNAVAILABLE.
	FindVolunteer(ctx context.Context, id string) (*Volunteer, error)
	FindVolunteerByPhone(ctx context.Context, phone string) (*Volunteer, error)
	// UpdateVolunteer applies change under optimistic locking and keeps
	// the indexes in step. Errors: ENOTFOUND, ECONFLICT, EUNAVAILABLE.
	UpdateVolunteer(ctx context.Context, id string, change VolunteerChange) (*Volunteer, error)
	// FindVolunteers lists volunteers (newest first) and the total.
	FindVolunteers(ctx context.Context, f VolunteerFilter) ([]*Volunteer, int, error)
	// NearbyVolunteers returns matchable volunteers with skill within
	// radius metres of (lat, long), nearest first, at most count.
	// skill may also be QualificationSkill(kind): the store indexes each
	// volunteer's qualifications (valid or expired: the caller checks the
	// date) beside their skills; and either may be wrapped in
	// LanguageSkill(skill, lang) for a lang other than CommonLanguage,
	// holding only the volunteers who speak it. Errors: EINVALID,
	// EUNAVAILABLE.
	NearbyVolunteers(ctx context.Context, skill string, lat, long, radius float64, count int) ([]VolunteerDistance, error)
	// VolunteersByPhone returns the stored volunteers with these phones
	// (E.164), keyed by phone; unknown phones are absent. For bulk import:
	// one round trip for a batch. Errors: EUNAVAILABLE.
	VolunteersByPhone(ctx context.Context, phones []string) (map[string]*Volunteer, error)
	// PutVolunteers writes a batch (bulk import) in few round trips. Each v
	// with ID "" is created (new ID, Version 1, as CreateVolunteer); any
	// other is stored as Version+1 if the stored version is still
	// v.Version (as UpdateVolunteer, without retrying). On success v holds
	// what was stored. errs[i] is v[i]'s own failure (ECONFLICT for a
	// phone taken or a version moved on, EINVALID, ENOTFOUND), nil when
	// stored; err is a failure of the whole batch (EUNAVAILABLE).
	PutVolunteers(ctx context.Context, vs []*Volunteer) (errs []error, err error)
}

// QualificationSkill is the pseudo-skill under which a store indexes the
// volunteers holding a qualification of kind, so that matching finds a
// lawyer for a legal ticket even when "legal" is not among their skills.
// Catalogue codes never hold a colon, so the two cannot collide.
func QualificationSkill(kind string) string { return "qualification:" + kind }

// CommonLanguage is the language nearly every volunteer speaks (Mandarin):
// a store indexes the other languages apart (LanguageSkill).
const CommonLanguage = "zh"

// LanguageSkill is the pseudo-skill under which a store indexes the
// volunteers of skill (a category or a QualificationSkill) who speak lang,
// for every lang but CommonLanguage: one volunteer in ten speaks English,
// so an English ticket searched among everyone would read ten volunteers
// to find one. Neither codes nor qualifications hold an "@".
func LanguageSkill(skill, lang string) string { return skill + "@" + lang }

// VolunteerDistance is a volunteer found near a point.
type VolunteerDistance struct {
	Volunteer *Volunteer
	Distance  float64 // metres
}

// AssignmentStatus is where a task offer stands.
type AssignmentStatus string

const (
	AssignmentOffered   AssignmentStatus = "offered"   // SMS sent, waiting for the reply
	AssignmentAccepted  AssignmentStatus = "accepted"  // the volunteer took it
	AssignmentDeclined  AssignmentStatus = "declined"  // the volunteer said no
	AssignmentExpired   AssignmentStatus = "expired"   // no answer in time
	AssignmentDone      AssignmentStatus = "done"      // the ticket was resolved; hours recorded
	AssignmentWithdrawn AssignmentStatus = "withdrawn" // staff took it back, or the ticket closed
)

// Open reports whether the assignment still holds the volunteer.
func (s AssignmentStatus) Open() bool {
	return s == AssignmentOffered || s == AssignmentAccepted
}

// Assignment is one volunteer on one ticket: offered, then accepted or
// declined (or expired), then done with hours.
type Assignment struct {
	ID          string           `json:"id"`
	TicketID    string           `json:"ticket_id"`
	VolunteerID string           `json:"volunteer_id"`
	Status      AssignmentStatus `json:"status"`
	// By is the staff user (or group lead) who assigned; Reason is why the
	// matching ranked the volunteer (shown to staff).
	By        string    `json:"by"`
	Reason    string    `json:"reason,omitempty"`
	OfferedAt time.Time `json:"offered_at"`
	// RespondBy is when an unanswered offer passes to the next match.
	RespondBy  time.Time `json:"respond_by,omitzero"`
	AnsweredAt time.Time `json:"answered_at,omitzero"`
	DoneAt     time.Time `json:"done_at,omitzero"`
	// Hours given on the task, recorded on resolution (staff may correct).
	Hours float64 `json:"hours,omitempty"`
	// Category and Committee of the ticket, kept for the hours reports.
	Category  string    `json:"category,omitempty"`
	Committee string    `json:"committee,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
	Version   int64     `json:"version"`
}

// AssignmentChange changes an assignment under optimistic locking.
type AssignmentChange func(a *Assignment) error

// AssignmentStore keeps task offers, their deadlines and the hours.
type AssignmentStore interface {
	// CreateAssignment stores a with a new ID; one open assignment per
	// (ticket, volunteer): ECONFLICT otherwise.
	CreateAssignment(ctx context.Context, a *Assignment) error
	FindAssignment(ctx context.Context, id string) (*Assignment, error)
	UpdateAssignment(ctx context.Context, id string, change AssignmentChange) (*Assignment, error)
	// TicketAssignments and VolunteerAssignments list them, newest first.
	TicketAssignments(ctx context.Context, ticketID string) ([]*Assignment, error)
	VolunteerAssignments(ctx context.Context, volunteerID string) ([]*Assignment, error)
	// OpenTasks counts a volunteer's open assignments (their load).
	OpenTasks(ctx context.Context, volunteerIDs []string) (map[string]int, error)
	// ClaimExpired leases offers whose RespondBy passed (like the
	// deadline queue), so each expiry is handled once across replicas.
	ClaimExpired(ctx context.Context, now time.Time, lease time.Duration, n int) ([]*Assignment, error)
	// Done lists the assignments done in [from, to), for the hours reports.
	Done(ctx context.Context, from, to time.Time) ([]*Assignment, error)
}
