package redisstore

import (
	"sync"
	"sync/atomic"

	"github.com/caojiadu/hotline"
	"github.com/redis/go-redis/v9"
)

// Local echo. A change made through this process is in the feed the moment
// its script returns, but the process's own tails only see it once their
// XREAD is answered and parsed, and on a busy machine the goroutine blocked
// in that read is among the last to run. So the ticket store also hands the
// entry straight to this process's running tails (echo.offer), and each
// tail takes it only when it comes next in its partition: when the tail has
// delivered exactly the entry the script found last in the stream before
// its XADD. Otherwise (another replica's entry came in between, or an
// earlier offer has not arrived yet) the offer is dropped and the entry
// comes by XREAD as before. Either way each entry is delivered once, in
// stream order: a tail delivers under one lock, only entries after the
// last it delivered.
//
// Other replicas learn of the change through Redis, as before: the echo is
// a shortcut for the boards on this replica, not a second channel.
type echoes struct {
	n     atomic.Int32 // running tails, to skip the work when there are none
	taken atomic.Int64 // offers a tail took, for tests
	mu    sync.Mutex
	tails map[*tailState]struct{}
}

// tailState is what one Tail has delivered, shared by its partition readers
// and the echo. mu serializes deliveries (fn is called under it).
type tailState struct {
	mu   sync.Mutex
	last hotline.FeedPosition
	fn   func(hotline.FeedEvent)
}

func (e *echoes) add(t *tailState) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.tails == nil {
		e.tails = map[*tailState]struct{}{}
	}
	e.tails[t] = struct{}{}
	e.n.Store(int32(len(e.tails)))
}

func (e *echoes) remove(t *tailState) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.tails, t)
	e.n.Store(int32(len(e.tails)))
}

// wanted is the scripts' flag asking for the feed ids: "1" while this
// process has a running tail, so that a replica without boards does not
// pay for the read of the stream's last entry.
func (e *echoes) wanted() string {
	if e.n.Load() > 0 {
		return "1"
	}
	return "0"
}

// offer hands the feed entry fid of partition p (ticket id, event JSON,
// summary JSON), which the script wrote right after prev, to the running
// tails before the change's request returns. For the live board that means
// read-your-writes: a dispatcher whose action has returned finds its event
// already queued to their board (and to every board on this replica), so
// the board never shows the state from before a change its own user made.
// It costs the request the hand-over (a decode and non-blocking queue
// sends), not the boards' writes.
func (e *echoes) offer(p int, prev, fid, id, event, summary string) {
	if e.n.Load() == 0 || fid == "" || prev == "" {
		return
	}
	e.mu.Lock()
	tails := make([]*tailState, 0, len(e.tails))
	for t := range e.tails {
		tails = append(tails, t)
	}
	e.mu.Unlock()
	// The same decoding as an entry read back, so an echoed entry and a
	// read one cannot differ.
	fe, err := decodeFeedEntry(p, redis.XMessage{ID: fid, Values: map[string]any{"t": id, "e": event, "s": summary}})
	if err != nil {
		return // the tails' XREAD meets it and logs it
	}
	for _, t := range tails {
		if t.deliverAfter(prev, fe) {
			e.taken.Add(1)
		}
	}
}

// deliverAfter delivers fe if the tail's last entry in its partition is
// prev; it reports whether it did.
func (t *tailState) deliverAfter(prev string, fe hotline.FeedEvent) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last[fe.Partition] != prev {
		return false
	}
	t.last[fe.Partition] = fe.StreamID
	t.fn(fe)
	return true
}

// seen reports whether the tail has delivered partition p up to id.
func (t *tailState) seen(p int, id string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return hotline.CompareStreamIDs(id, t.last[p]) <= 0
}

// deliver delivers fe unless the tail is already past it (it was echoed).
func (t *tailState) deliver(fe hotline.FeedEvent) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.last.Advance(fe.Partition, fe.StreamID) {
		return false
	}
	t.fn(fe)
	return true
}

// skip moves the tail past an entry it cannot deliver.
func (t *tailState) skip(p int, id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.last.Advance(p, id)
}
