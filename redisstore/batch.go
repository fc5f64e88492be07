package redisstore

import (
	"context"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// batcher coalesces the commands that concurrent requests send one at a
// time into pipelines (group commit). Every round trip costs a write and a
// read system call on each side, which at a few thousand tickets a second
// is most of what Redis and the client spend; in a pipeline one pair of
// calls carries a whole batch.
//
// It adds no waiting: a command found with no flush under way is sent at
// once, alone. While a pipeline is out, the commands that arrive queue up
// and leave together as soon as it returns, so batches grow with the load
// by themselves. The flushing goroutine exists only while there is work,
// so a DB needs no Close.
//
// Every command keeps its own reply and error (a pipeline does not make
// its commands one transaction: each script stays atomic on its own). A
// caller whose context ends while its command waits gets the context's
// error, and a command whose caller has gone is not sent.
type batcher struct {
	client redis.UniversalClient
	// max bounds a pipeline: replies are read in one go, and one request
	// should not wait behind hundreds of others.
	max int

	mu       sync.Mutex
	queue    []*batchCall
	flushing bool
}

// maxBatch is how many commands one pipeline carries at most.
const maxBatch = 64

type batchCall struct {
	ctx   context.Context
	queue func(redis.Pipeliner) redis.Cmder
	cmd   redis.Cmder
	done  chan struct{}
}

func newBatcher(c redis.UniversalClient) *batcher {
	return &batcher{client: c, max: maxBatch}
}

// do has queue add one command to the next pipeline and waits for its
// reply. queue runs on the goroutine that sends the pipeline.
//
// A call that finds no pipeline out leads: it sends the queue (itself
// included) on its own goroutine, which spares an unloaded caller two
// goroutine hand-overs per round trip. If more commands queued up
// meanwhile, it hands them to a flushing goroutine and returns; while that
// goroutine runs, later calls only queue and wait. A leader waits for its
// pipeline even if its context ends meanwhile: the pipeline carries others'
// commands too, and the client's read and write timeouts bound it.
func (b *batcher) do(ctx context.Context, queue func(redis.Pipeliner) redis.Cmder) (redis.Cmder, error) {
	c := &batchCall{ctx: ctx, queue: queue, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, c)
	lead := !b.flushing
	b.flushing = true
	b.mu.Unlock()
	if lead {
		if b.sendOne() {
			go b.flush()
		}
	}
	select {
	case <-c.done:
		if c.cmd == nil {
			return nil, ctx.Err() // dropped: the caller had gone
		}
		return c.cmd, c.cmd.Err()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// flush sends pipelines until the queue is empty.
func (b *batcher) flush() {
	for b.sendOne() {
	}
}

// sendOne sends one pipeline of up to max queued commands and reports
// whether more are waiting; when none are, the batcher is idle again.
func (b *batcher) sendOne() bool {
	b.mu.Lock()
	n := min(len(b.queue), b.max)
	calls := make([]*batchCall, n)
	copy(calls, b.queue[:n])
	rest := copy(b.queue, b.queue[n:])
	clear(b.queue[rest:])
	b.queue = b.queue[:rest]
	b.mu.Unlock()
	if n > 0 {
		b.exec(calls)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.queue) == 0 {
		b.flushing = false
		return false
	}
	return true
}

func (b *batcher) exec(calls []*batchCall) {
	pipe := b.client.Pipeline()
	sent := 0
	for _, c := range calls {
		if c.ctx.Err() != nil {
			continue
		}
		c.cmd = c.queue(pipe)
		sent++
	}
	if sent > 0 {
		// Errors are set on each command; the callers read their own.
		// The callers' contexts bound their waits; the pipeline itself
		// is bounded by the client's read and write timeouts.
		_, _ = pipe.Exec(context.Background())
	}
	for _, c := range calls {
		close(c.done)
	}
}

// evalBatched runs script through the batcher, with its SHA, falling back
// to sending the whole script when Redis does not know it (a restart or a
// SCRIPT FLUSH), as redis.Script.Run does.
func (db *DB) evalBatched(ctx context.Context, script *redis.Script, keys []string, args ...any) *redis.Cmd {
	cmd, err := db.batch.do(ctx, func(p redis.Pipeliner) redis.Cmder {
		return p.EvalSha(ctx, script.Hash(), keys, args...)
	})
	if err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
		return script.Eval(ctx, db.client, keys, args...)
	}
	if c, ok := cmd.(*redis.Cmd); ok {
		return c
	}
	c := redis.NewCmd(ctx)
	c.SetErr(err)
	return c
}
