package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/caojiadu/hotline"
)

// RateLimiter limits requests per key with GCRA (see allowScript), shared
// by every replica. A key is one small string that expires as soon as the
// client is back to a full allowance. Keys are hashed: the caller's key may
// hold a client address or a username, which do not belong in key names.
type RateLimiter struct {
	db *DB
}

var _ hotline.RateLimiter = (*RateLimiter)(nil)

// NewRateLimiter returns a rate limiter on db.
func NewRateLimiter(db *DB) *RateLimiter { return &RateLimiter{db: db} }

// Allow implements hotline.RateLimiter: up to limit requests at once, then
// one every window/limit. A refused request is not counted, so a client
// that keeps knocking is let in again after retryAfter. Errors: EINVALID for a limit or window
// below one, EUNAVAILABLE.
func (r *RateLimiter) Allow(ctx context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error) {
	if limit < 1 || window < time.Microsecond {
		return false, 0, hotline.Errorf(hotline.EINVALID, "rate limit needs a limit of at least 1 and a window of at least 1µs")
	}
	sum := sha256.Sum256([]byte(key))
	res, err := allowScript.Run(ctx, r.db.client, []string{r.db.key("rl", hex.EncodeToString(sum[:16]))},
		window.Microseconds(), limit).Int64Slice()
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
