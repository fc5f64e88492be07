package redisstore

import (
	"context"
	"time"

	"github.com/caojiadu/hotline"
)

// ScanNeedsPaged is ScanNeeds reading size ids per round trip, so tests
// see pages end inside a run of tickets created in the same millisecond.
func ScanNeedsPaged(s *TicketStore, ctx context.Context, from, to time.Time, size int, fn func(hotline.NeedRecord) error) error {
	return s.scanNeeds(ctx, from, to, size, fn)
}
