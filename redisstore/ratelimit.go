package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/caojiadu/hotline"
)

// RateLimiter counts requests in a sliding window shared by every replica.
// Each key holds one sorted-set member per request allowed in the window,
// so memory per key is bounded by the limit; the key expires one window
// after its last allowed request.
type RateLimiter struct {
	db *DB
}

var _ hotline.RateLimiter = (*RateLimiter)(nil)

// NewRateLimiter returns a rate limiter on db.
func NewRateLimiter(db *DB) *RateLimiter { return &RateLimiter{db: db} }

// Allow implements hotline.RateLimiter. A refused request is not counted,
// so a client that keeps knocking is let in again as soon as its oldest
// allowed request leaves the window. Errors: EINVALID for a limit or window
// below one, EUNAVAILABLE.
func (r *RateLimiter) Allow(ctx context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error) {
	if limit < 1 || window < time.Microsecond {
		return false, 0, hotline.Errorf(hotline.EINVALID, "rate limit needs a limit of at least 1 and a window of at least 1µs")
	}
	member, err := randomHex(8)
	if err != nil {
		return false, 0, hotline.Internal(err)
	}
	res, err := allowScript.Run(ctx, r.db.client, []string{r.db.key("rl", key)},
		window.Microseconds(), limit, member).Int64Slice()
	if err != nil {
		return false, 0, storeErr(err)
	}
	if len(res) != 2 {
		return false, 0, hotline.Internal(fmt.Errorf("rate limit script answered %v", res))
	}
	if res[0] == 1 {
		return true, 0, nil
	}
	return false, time.Duration(res[1]) * time.Microsecond, nil
}
