package volunteers

import (
	"log/slog"
	"time"

	"github.com/caojiadu/hotline"
)

// Service is the volunteer registry's logic. Its fields are its
// dependencies; set them before the first call and do not change them
// afterwards. The zero values of the tuning fields mean the defaults.
type Service struct {
	Store hotline.VolunteerStore
	// Assignments gives the volunteers' open tasks (their load) to
	// matching. Nil: every volunteer counts as free.
	Assignments hotline.AssignmentStore
	// Directory hands out the network (committees, groups, gazetteer) and
	// the catalogue (skills) in force.
	Directory hotline.Directory
	// Now is the clock; tests replace it. Nil: time.Now.
	Now func() time.Time
	// Logger reports failures without personal data. Nil: slog.Default.
	Logger *slog.Logger

	// Radius is how far from the resident (metres) matching looks for
	// volunteers (0: DefaultRadius).
	Radius float64
	// MaxTasks is how many open tasks a volunteer carries at most before
	// matching passes them over, when their own MaxTasks is 0
	// (0: DefaultMaxTasks).
	MaxTasks int
}

// Defaults of the Service's tuning fields.
const (
	// DefaultRadius is a quarter-hour walk: the street is 1.5 km², so
	// 3 km takes in all of it from anywhere inside.
	DefaultRadius = 3000.0
	// DefaultMaxTasks keeps a volunteer to two open tasks at once.
	DefaultMaxTasks = 2
)

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
