package redisstore

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/caojiadu/hotline"
)

// DeadlineQueue hands out tickets whose time limit has passed. Each
// partition has a zset P:{pN}:due (member ticket id, score the ticket's
// NextDeadline in unix ms) that the create and update scripts keep in step
// with the ticket, and a claim moves scores forward by a lease instead of
// removing members, so a claimer that dies loses nothing: the ticket comes
// due again when the lease ends.
type DeadlineQueue struct {
	db *DB
	// next is where the following ClaimDue starts. Rotating the start means
	// that when max is smaller than what is due, the low partitions cannot
	// take every claim while the high ones wait.
	next atomic.Uint32
}

var _ hotline.DeadlineQueue = (*DeadlineQueue)(nil)

// NewDeadlineQueue returns the deadline queue of the tickets stored on db.
func NewDeadlineQueue(db *DB) *DeadlineQueue { return &DeadlineQueue{db: db} }

// ClaimDue implements hotline.DeadlineQueue. It asks the partitions one
// after the other, each in one script, until it has max ids or has asked
// them all: asking them all at once could claim more than max, and the
// surplus would wait a lease for nothing. Within a partition ids come
// earliest deadline first. Errors: EINVALID when lease is not positive
// (a claim must hide the ticket from the next claimer), EUNAVAILABLE. On an
// error the ids already claimed are returned with it; they come due again
// after the lease whatever the caller does.
func (q *DeadlineQueue) ClaimDue(ctx context.Context, now time.Time, lease time.Duration, max int) ([]string, error) {
	if lease <= 0 {
		return nil, hotline.Errorf(hotline.EINVALID, "claim lease must be positive, got %v", lease)
	}
	if max <= 0 {
		return nil, nil
	}
	// Scores are whole milliseconds and the range is inclusive, so a
	// deadline is due in the millisecond it falls in; the lease is rounded
	// up so that a sub-millisecond lease still moves the score.
	nowMS := now.UnixMilli()
	until := nowMS + (lease + time.Millisecond - 1).Milliseconds()
	start := int(q.next.Add(1)-1) % partitions
	var ids []string
	for i := range partitions {
		p := (start + i) % partitions
		got, err := claimDueScript.Run(ctx, q.db.client, []string{q.db.pkey(p, "due")},
			nowMS, until, max-len(ids)).StringSlice()
		if err != nil {
			return ids, storeErr(err)
		}
		ids = append(ids, got...)
		if len(ids) >= max {
			break
		}
	}
	return ids, nil
}

// Reschedule implements hotline.DeadlineQueue: it queues the deadline
// stored with the ticket (hash field n), read inside the script so that it
// is the current one even if the ticket changed since the caller read it.
// Errors: ENOTFOUND, EUNAVAILABLE.
func (q *DeadlineQueue) Reschedule(ctx context.Context, id string) error {
	p, ok := partitionOf(id)
	if !ok {
		return ticketNotFound()
	}
	res, err := rescheduleScript.Run(ctx, q.db.client,
		[]string{q.db.pkey(p, "t", id), q.db.pkey(p, "due")}, id).Int64()
	if err != nil {
		return storeErr(err)
	}
	if res < 0 {
		return ticketNotFound()
	}
	return nil
}
