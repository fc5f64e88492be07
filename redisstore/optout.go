package redisstore

import (
	"context"
	"time"

	"github.com/caojiadu/hotline"
)

// OptOuts keeps the numbers that texted STOP (or 退订) in one hash,
// P:optouts, field the number's nameHash, value the unix ms it opted out.
// The number itself is not stored: the outbox only ever asks about a
// number it is about to text, and a hash of it answers that.
type OptOuts struct {
	db *DB
}

var _ hotline.OptOuts = (*OptOuts)(nil)

// NewOptOuts returns the opt-out list on db.
func NewOptOuts(db *DB) *OptOuts { return &OptOuts{db: db} }

// OptOut implements hotline.OptOuts. Opting out again keeps the first
// time. Errors: EINVALID (no number), EUNAVAILABLE.
func (s *OptOuts) OptOut(ctx context.Context, phone string) error {
	if phone == "" {
		return noPhone()
	}
	return storeErr(s.db.client.HSetNX(ctx, s.db.key("optouts"), nameHash(phone), time.Now().UnixMilli()).Err())
}

// OptIn implements hotline.OptOuts: the number may be texted again.
// Errors: EINVALID (no number), EUNAVAILABLE.
func (s *OptOuts) OptIn(ctx context.Context, phone string) error {
	if phone == "" {
		return noPhone()
	}
	return storeErr(s.db.client.HDel(ctx, s.db.key("optouts"), nameHash(phone)).Err())
}

// OptedOut implements hotline.OptOuts. Errors: EUNAVAILABLE.
func (s *OptOuts) OptedOut(ctx context.Context, phone string) (bool, error) {
	if phone == "" {
		return false, nil
	}
	ok, err := s.db.client.HExists(ctx, s.db.key("optouts"), nameHash(phone)).Result()
	if err != nil {
		return false, storeErr(err)
	}
	return ok, nil
}

func noPhone() error {
	return hotline.Errorf(hotline.EINVALID, "no phone number given")
}
