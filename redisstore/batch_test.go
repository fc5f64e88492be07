package redisstore_test

import (
	"context"
	"sync"
	"testing"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/internal/redistest"
	"github.com/caojiadu/hotline/redisstore"
)

// Concurrent creations share pipelines; each must still get its own ticket
// and its own answer, also when Redis has forgotten the script meanwhile.
func TestCreateTicketConcurrentSharesPipelines(t *testing.T) {
	c, prefix := redistest.New(t)
	s := redisstore.NewTicketStore(redisstore.NewDB(c, prefix))
	ctx := context.Background()
	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	const n = 200
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := ""
			if i%2 == 0 {
				key = "k" + string(rune('a'+i%26)) + "-" + string(rune('a'+i/26))
			}
			tk := NewTicket()
			if _, err := s.CreateTicket(ctx, tk, key); err != nil {
				t.Errorf("ticket %d: %v", i, err)
				return
			}
			ids[i] = tk.ID
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, id := range ids {
		if seen[id] {
			t.Fatalf("ticket %d: id %s handed out twice", i, id)
		}
		seen[id] = true
		if _, err := s.FindTicket(ctx, id); err != nil {
			t.Fatalf("ticket %d (%s): %v", i, id, err)
		}
	}
}

func TestCreateTicketCancelledIsUnavailable(t *testing.T) {
	c, prefix := redistest.New(t)
	s := redisstore.NewTicketStore(redisstore.NewDB(c, prefix))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.CreateTicket(ctx, NewTicket(), "")
	if got, want := hotline.ErrorCode(err), hotline.EUNAVAILABLE; got != want {
		t.Fatalf("got %v (%v), want %s", got, err, want)
	}
}
