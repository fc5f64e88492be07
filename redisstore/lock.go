package redisstore

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/go-redsync/redsync/v4"
	"github.com/go-redsync/redsync/v4/redis/goredis/v9"

	"github.com/caojiadu/hotline"
)

// Locker hands out named locks shared by every replica on the same Redis
// (redsync's single-instance lock: SET NX PX with a random value, deleted
// or extended only by a script that checks the value), for jobs that must
// run once at a time across replicas, such as the nightly grouping.
//
//	P:lock:<name>  string, the holder's random value, TTL the lock's
//
// A lock on a single Redis (or a Sentinel-managed master) is as safe as
// that server: a failover that loses the key lets a second holder in.
// The jobs it guards are idempotent, so that costs a repeated run, never
// wrong data.
type Locker struct {
	db *DB
	rs *redsync.Redsync
}

// NewLocker returns the locker on db.
func NewLocker(db *DB) *Locker {
	return &Locker{db: db, rs: redsync.New(goredis.NewPool(db.client))}
}

// Lock takes the lock name for ttl and keeps extending it (every third of
// ttl) until unlock is called, so a job longer than ttl keeps it, and a
// process that dies loses it within ttl. ok is false, with no error, when
// another holder has it. unlock may be called more than once.
// Errors: EINVALID (ttl under a second), EUNAVAILABLE.
func (l *Locker) Lock(ctx context.Context, name string, ttl time.Duration) (unlock func() error, ok bool, err error) {
	if ttl < time.Second {
		return nil, false, hotline.Errorf(hotline.EINVALID, "a lock needs a time to live of at least a second")
	}
	m := l.rs.NewMutex(l.db.key("lock", name), redsync.WithExpiry(ttl), redsync.WithTries(1))
	if err := m.TryLockContext(ctx); err != nil {
		var taken *redsync.ErrTaken
		if errors.As(err, &taken) || errors.Is(err, redsync.ErrFailed) {
			return nil, false, nil
		}
		return nil, false, storeErr(lockCause(err))
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				// A failed extension is retried at the next tick; the
				// lock lapses only if every tick fails for a whole ttl.
				ectx, cancel := context.WithTimeout(context.Background(), ttl/3)
				_, _ = m.ExtendContext(ectx)
				cancel()
			}
		}
	}()
	var once sync.Once
	var uerr error
	unlock = func() error {
		once.Do(func() {
			close(stop)
			<-done
			uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			ok, err := m.UnlockContext(uctx)
			var re *redsync.RedisError
			switch {
			case ok:
			case errors.As(err, &re):
				uerr = storeErr(lockCause(err))
			default:
				// Expired, or taken since by another holder: every
				// extension failed for a whole ttl.
				uerr = hotline.Errorf(hotline.ECONFLICT, "the lock %q lapsed before its holder was done", name)
			}
		})
		return uerr
	}
	return unlock, true, nil
}

// lockCause digs the Redis error out of redsync's per-node wrapping, so
// storeErr can tell an unreachable server from a bug.
func lockCause(err error) error {
	var re *redsync.RedisError
	if errors.As(err, &re) && re.Err != nil {
		return re.Err
	}
	return err
}
