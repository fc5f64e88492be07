package hotline

import (
	"context"
	"time"
)

// Role is what a staff user may do.
type Role string

const (
	RoleAdmin        Role = "admin"         // street administrator: everything, network configuration, audit
	RoleDispatcher   Role = "dispatcher"    // works the board of their unit and the units below it
	RoleCommittee    Role = "committee"     // neighbourhood committee or volunteer group staff
	RoleSocialWorker Role = "social_worker" // volunteers' registration, needs analysis, proposals
	RoleVolunteer    Role = "volunteer"     // sees only the tasks assigned to them
)

// Roles lists every role.
var Roles = []Role{RoleAdmin, RoleDispatcher, RoleCommittee, RoleSocialWorker, RoleVolunteer}

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	for _, x := range Roles {
		if r == x {
			return true
		}
	}
	return false
}

// User is a member of staff (or a volunteer) who signs in.
type User struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Name     string `json:"name"`
	Role     Role   `json:"role"`
	// UnitID is the unit the user belongs to; they see its tickets and
	// those of every unit below it. Admins may have none: they see all.
	UnitID       string    `json:"unit_id,omitempty"`
	PasswordHash string    `json:"-"`
	CreatedAt    time.Time `json:"created_at"`
}

// CanSeeUnit reports whether u may see tickets held by unit (or, for an
// unplaced ticket, unit == "" which only admins and tier-2+ staff see).
func (u *User) CanSeeUnit(n *Network, unit string) bool {
	if u == nil {
		return false
	}
	if u.Role == RoleAdmin {
		return true
	}
	if u.UnitID == "" {
		return false
	}
	if unit == "" {
		own, ok := n.Unit(u.UnitID)
		return ok && own.Tier >= TierStreet
	}
	return n.Within(unit, u.UnitID)
}

// CanSeeTicket reports whether u may see t: the unit now responsible for it
// is u's unit or below it, or (for staff, not volunteers) the ticket lies in
// the area of a committee at or below u's unit, so a committee keeps sight of
// its residents' needs after they were escalated.
func (u *User) CanSeeTicket(n *Network, t *Ticket) bool {
	if u == nil || t == nil {
		return false
	}
	if u.CanSeeUnit(n, t.UnitID) {
		return true
	}
	return u.Role != RoleVolunteer && u.UnitID != "" && t.Location.Committee != "" &&
		n.Within(t.Location.Committee, u.UnitID)
}

// Session is a signed-in browser. Its token is the cookie value; CSRFToken
// must accompany every state-changing request made with the cookie.
type Session struct {
	Token     string    `json:"-"`
	UserID    string    `json:"user_id"`
	CSRFToken string    `json:"csrf_token"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// UserStore keeps staff users and their sessions.
type UserStore interface {
	// CreateUser stores u with a new ID. Errors: ECONFLICT when the
	// username is taken, EINVALID, EUNAVAILABLE.
	CreateUser(ctx context.Context, u *User) error
	// FindUserByID / FindUserByUsername. Errors: ENOTFOUND, EUNAVAILABLE.
	FindUserByID(ctx context.Context, id string) (*User, error)
	FindUserByUsername(ctx context.Context, username string) (*User, error)
	// ListUsers returns every user ordered by username. Errors: EUNAVAILABLE.
	ListUsers(ctx context.Context) ([]*User, error)

	// CreateSession stores s; it expires by itself at s.ExpiresAt.
	// Errors: EINVALID (empty token, already expired), EUNAVAILABLE.
	CreateSession(ctx context.Context, s *Session) error
	// FindSession returns an unexpired session. Errors: ENOTFOUND, EUNAVAILABLE.
	FindSession(ctx context.Context, token string) (*Session, error)
	// DeleteSession ends a session; deleting a missing one is not an error.
	DeleteSession(ctx context.Context, token string) error
}

// RateLimiter counts requests per key over a sliding window shared by every
// replica.
type RateLimiter interface {
	// Allow reports whether one more request under key fits in limit per
	// window; when not, retryAfter says how long to wait.
	Allow(ctx context.Context, key string, limit int, window time.Duration) (ok bool, retryAfter time.Duration, err error)
}
