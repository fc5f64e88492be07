package redisstore_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/redisstore"
)

// outboxNow is the clock the outbox scenarios claim at.
var outboxNow = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// NewMessage returns a message as the notifier would enqueue it, due at
// outboxNow.
func NewMessage(key, to string) *hotline.OutboundMessage {
	return &hotline.OutboundMessage{Key: key, To: to, Body: "您的工单 160035 已受理", TicketID: "160035",
		Kind: "accepted", NextAt: outboxNow}
}

// MustEnqueue enqueues m and fails the test unless it was stored anew.
func MustEnqueue(tb testing.TB, o *redisstore.Outbox, m *hotline.OutboundMessage) *hotline.OutboundMessage {
	tb.Helper()
	created, err := o.Enqueue(context.Background(), m)
	if err != nil {
		tb.Fatalf("enqueue %s: %v", m.Key, err)
	}
	if !created {
		tb.Fatalf("enqueue %s: not created", m.Key)
	}
	return m
}

// MustClaim claims at now and fails the test on error.
func MustClaim(tb testing.TB, o *redisstore.Outbox, now time.Time, lease time.Duration, n int) []*hotline.OutboundMessage {
	tb.Helper()
	ms, err := o.Claim(context.Background(), now, lease, n)
	if err != nil {
		tb.Fatalf("claim: %v", err)
	}
	return ms
}

// MustMessage reads a message back.
func MustMessage(tb testing.TB, o *redisstore.Outbox, id string) *hotline.OutboundMessage {
	tb.Helper()
	m, err := o.FindMessage(context.Background(), id)
	if err != nil {
		tb.Fatalf("find message %s: %v", id, err)
	}
	return m
}

func ids(ms []*hotline.OutboundMessage) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func TestOutboxEnqueueStoresTheMessage(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		o := redisstore.NewOutbox(b.db)
		m := MustEnqueue(t, o, NewMessage("ticket:160035:v2:accepted", "+8613800138000"))
		if m.ID == "" || m.Status != hotline.MessageQueued || m.Attempts != 0 || m.CreatedAt.IsZero() || !m.NextAt.Equal(outboxNow) {
			t.Fatalf("enqueued %+v: want an id, queued, no attempts, a creation time, due at %v", m, outboxNow)
		}
		if got, want := asJSON(t, MustMessage(t, o, m.ID)), asJSON(t, m); got != want {
			t.Errorf("stored message differs:\n got %s\nwant %s", got, want)
		}

		// Without NextAt it is due at once.
		now := MustEnqueue(t, o, &hotline.OutboundMessage{Key: "k2", To: "+8613800138001", Body: "hi"})
		if now.NextAt.IsZero() || now.NextAt.After(time.Now()) {
			t.Errorf("next at %v, want now", now.NextAt)
		}

		_, err := o.FindMessage(context.Background(), "m999999")
		AssertCode(t, err, hotline.ENOTFOUND)
	})
}

func TestOutboxEnqueueValidates(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		o := redisstore.NewOutbox(b.db)
		for field, m := range map[string]*hotline.OutboundMessage{
			"to":   {Key: "k", Body: "hi"},
			"body": {Key: "k", To: "+8613800138000"},
			"key":  {To: "+8613800138000", Body: "hi"},
		} {
			_, err := o.Enqueue(context.Background(), m)
			AssertCode(t, err, hotline.EINVALID)
			if _, ok := hotline.ErrorFields(err)[field]; !ok {
				t.Errorf("fields %v: want a message for %s", hotline.ErrorFields(err), field)
			}
		}
	})
}

// A message enqueued twice under one key, even at the same moment by
// several replicas, is stored and sent once; the later callers get the
// first message back.
func TestOutboxEnqueueOncePerKey(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		o := redisstore.NewOutbox(b.db)
		ctx := context.Background()
		first := MustEnqueue(t, o, NewMessage("ticket:160035:v4:accepted", "+8613800138000"))
		again := NewMessage("ticket:160035:v4:accepted", "+8613800138000")
		again.Body = "a different text"
		created, err := o.Enqueue(ctx, again)
		if err != nil || created {
			t.Fatalf("second enqueue: created %v, err %v; want not created", created, err)
		}
		if got, want := asJSON(t, again), asJSON(t, first); got != want {
			t.Errorf("second enqueue got\n %s\nwant the first\n %s", got, want)
		}

		const racers = 8
		var wg sync.WaitGroup
		var mu sync.Mutex
		stored, got := 0, map[string]bool{}
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m := NewMessage("ticket:160051:v2:resolved", "+8613800138000")
				m.Body = fmt.Sprint("racer ", i)
				ok, err := o.Enqueue(ctx, m)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if ok {
					stored++
				}
				got[m.ID+"/"+m.Body] = true
			}()
		}
		wg.Wait()
		if stored != 1 || len(got) != 1 {
			t.Errorf("%d racers: %d stored, answers %v; want 1 stored and one answer for all", racers, stored, got)
		}
		if n := len(MustClaim(t, o, outboxNow, time.Minute, 10)); n != 2 {
			t.Errorf("claimed %d messages, want 2 (one per key)", n)
		}
	})
}

// Two senders claiming at once take each due message exactly once; the
// messages come due again when the lease ends.
func TestOutboxClaimOncePerLease(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		o := redisstore.NewOutbox(b.db)
		ctx := context.Background()
		const lease = time.Minute
		var due []string
		for i := range 30 {
			m := NewMessage(fmt.Sprint("due-", i), fmt.Sprintf("+86138001380%02d", i))
			m.NextAt = outboxNow.Add(-time.Duration(i) * time.Second)
			due = append(due, MustEnqueue(t, o, m).ID)
		}
		later := NewMessage("later", "+8613800138099")
		later.NextAt = outboxNow.Add(time.Second)
		MustEnqueue(t, o, later)

		senders := []*redisstore.Outbox{o, redisstore.NewOutbox(redisstore.NewDB(SecondClient(t, b.db.Client()), b.db.Prefix()))}
		claimAll := func(at time.Time) []string {
			t.Helper()
			var mu sync.Mutex
			var got []string
			var wg sync.WaitGroup
			for _, s := range senders {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						ms, err := s.Claim(ctx, at, lease, 4)
						if err != nil {
							t.Error(err)
							return
						}
						if len(ms) == 0 {
							return
						}
						mu.Lock()
						got = append(got, ids(ms)...)
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			slices.Sort(got)
			return got
		}
		want := slices.Sorted(slices.Values(due))

		if got := claimAll(outboxNow); !slices.Equal(got, want) {
			t.Errorf("first claim: %v, want each of %v once", got, want)
		}
		if got := claimAll(outboxNow.Add(lease - time.Millisecond)); !slices.Equal(got, []string{later.ID}) {
			t.Errorf("during the lease: %v, want only %s, which came due meanwhile", got, later.ID)
		}
		if got := claimAll(outboxNow.Add(lease)); !slices.Equal(got, want) {
			t.Errorf("after the lease: %v, want each of %v again", got, want)
		}

		_, err := o.Claim(ctx, outboxNow, 0, 1)
		AssertCode(t, err, hotline.EINVALID)
	})
}

// A claim hands out the earliest due messages first, whole.
func TestOutboxClaimEarliestFirst(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		o := redisstore.NewOutbox(b.db)
		var want []*hotline.OutboundMessage
		for i, ago := range []time.Duration{time.Second, time.Hour, time.Minute} {
			m := NewMessage(fmt.Sprint("k", i), "+8613800138000")
			m.NextAt = outboxNow.Add(-ago)
			want = append(want, MustEnqueue(t, o, m))
		}
		got := MustClaim(t, o, outboxNow, time.Minute, 2)
		if len(got) != 2 || asJSON(t, got[0]) != asJSON(t, want[1]) || asJSON(t, got[1]) != asJSON(t, want[2]) {
			t.Errorf("claimed %s\nwant the hour-old then the minute-old message", asJSON(t, got))
		}
	})
}

// A failed send comes back at the time Retry gives, not before, with one
// attempt more and the reason.
func TestOutboxRetryBackoff(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		o := redisstore.NewOutbox(b.db)
		ctx := context.Background()
		m := MustEnqueue(t, o, NewMessage("k", "+8613800138000"))
		MustClaim(t, o, outboxNow, time.Minute, 1)

		at := outboxNow.Add(5 * time.Minute)
		if err := o.Retry(ctx, m.ID, at, "twilio: 503"); err != nil {
			t.Fatal(err)
		}
		got := MustMessage(t, o, m.ID)
		if got.Status != hotline.MessageQueued || got.Attempts != 1 || got.Error != "twilio: 503" || !got.NextAt.Equal(at) {
			t.Errorf("after retry: %+v; want queued, 1 attempt, the reason, next at %v", got, at)
		}
		// The lease would have ended after a minute; the backoff holds it longer.
		if ms := MustClaim(t, o, at.Add(-time.Millisecond), time.Minute, 1); len(ms) != 0 {
			t.Errorf("claimed %v before its retry time", ids(ms))
		}
		if ms := MustClaim(t, o, at, time.Minute, 1); len(ms) != 1 || ms[0].ID != m.ID || ms[0].Attempts != 1 {
			t.Errorf("at its retry time: claimed %s, want %s with 1 attempt", asJSON(t, ms), m.ID)
		}
		if err := o.Retry(ctx, m.ID, at.Add(time.Minute), "again"); err != nil {
			t.Fatal(err)
		}
		if got := MustMessage(t, o, m.ID); got.Attempts != 2 {
			t.Errorf("attempts %d, want 2", got.Attempts)
		}

		// A sender whose lease ran out while another sent the message
		// cannot put it back.
		if err := o.MarkSent(ctx, m.ID, "SM1"); err != nil {
			t.Fatal(err)
		}
		AssertCode(t, o.Retry(ctx, m.ID, at, "late"), hotline.ECONFLICT)
		AssertCode(t, o.Retry(ctx, "m999999", at, "x"), hotline.ENOTFOUND)
	})
}

// MarkSent ends the lease for good; Finish ends a message that will not be
// sent; both keep the message for the retention period only.
func TestOutboxMarkSentAndFinish(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		o := redisstore.NewOutbox(b.db)
		ctx := context.Background()
		sent := MustEnqueue(t, o, NewMessage("sent", "+8613800138000"))
		stopped := MustEnqueue(t, o, NewMessage("stopped", "+8613800138001"))
		queued := MustEnqueue(t, o, NewMessage("queued", "+8613800138002"))
		MustClaim(t, o, outboxNow, time.Minute, 10)

		if err := o.MarkSent(ctx, sent.ID, "SM0001"); err != nil {
			t.Fatal(err)
		}
		if got := MustMessage(t, o, sent.ID); got.Status != hotline.MessageSent || got.SID != "SM0001" || got.Attempts != 1 {
			t.Errorf("after MarkSent: %+v; want sent, its sid, 1 attempt", got)
		}
		if err := o.Finish(ctx, stopped.ID, hotline.MessageSuppressed, "opted out"); err != nil {
			t.Fatal(err)
		}
		if err := o.Finish(ctx, stopped.ID, hotline.MessageSuppressed, "opted out"); err != nil {
			t.Errorf("finishing twice: %v", err)
		}
		if got := MustMessage(t, o, stopped.ID); got.Status != hotline.MessageSuppressed || got.Error != "opted out" {
			t.Errorf("after Finish: %+v; want suppressed with the reason", got)
		}
		if ms := MustClaim(t, o, outboxNow.Add(time.Hour), time.Minute, 10); !slices.Equal(ids(ms), []string{queued.ID}) {
			t.Errorf("after the lease: claimed %v, want only the message still queued, %s", ids(ms), queued.ID)
		}

		AssertCode(t, o.Finish(ctx, sent.ID, hotline.MessageFailed, "late"), hotline.ECONFLICT)
		AssertCode(t, o.Finish(ctx, queued.ID, hotline.MessageDelivered, ""), hotline.EINVALID)
		AssertCode(t, o.Finish(ctx, "m999999", hotline.MessageFailed, ""), hotline.ENOTFOUND)
		AssertCode(t, o.MarkSent(ctx, "m999999", "SM9"), hotline.ENOTFOUND)
		// A second sender's MarkSent does not change the first's record.
		if err := o.MarkSent(ctx, sent.ID, "SM0002"); err != nil {
			t.Fatal(err)
		}
		if got := MustMessage(t, o, sent.ID); got.SID != "SM0001" || got.Attempts != 1 {
			t.Errorf("after a second MarkSent: sid %s, %d attempts; want SM0001, 1", got.SID, got.Attempts)
		}

		for _, m := range []*hotline.OutboundMessage{sent, stopped, queued} {
			ttl := b.db.Client().TTL(ctx, fmt.Sprintf("%s:{outbox}:m:%s", b.db.Prefix(), m.ID)).Val()
			final := m != queued
			if final && (ttl < 89*24*time.Hour || ttl > 90*24*time.Hour) || !final && ttl != -1 {
				t.Errorf("message %s (final %v) expires in %v; want 90 days when final, never while queued", m.Key, final, ttl)
			}
		}
	})
}

// Twilio's status callbacks come in any order and sometimes twice; the
// message keeps the furthest status, and the first final one.
func TestOutboxStatusCallbacksInAnyOrder(t *testing.T) {
	scenarios := []struct {
		name      string
		callbacks []hotline.MessageStatus
		want      hotline.MessageStatus
	}{
		{"in order", []hotline.MessageStatus{"sending", "sent", "delivered"}, hotline.MessageDelivered},
		{"delivered before sent", []hotline.MessageStatus{"delivered", "sent"}, hotline.MessageDelivered},
		{"queued after sent", []hotline.MessageStatus{"sent", "queued", "sending"}, hotline.MessageSent},
		{"undelivered is final", []hotline.MessageStatus{"undelivered", "delivered", "sent"}, hotline.MessageUndelivered},
		{"failed is final", []hotline.MessageStatus{"failed", "delivered"}, hotline.MessageFailed},
		{"twice", []hotline.MessageStatus{"delivered", "delivered"}, hotline.MessageDelivered},
	}
	eachBackend(t, func(t *testing.T, b backend) {
		o := redisstore.NewOutbox(b.db)
		ctx := context.Background()
		for i, sc := range scenarios {
			t.Run(sc.name, func(t *testing.T) {
				m := MustEnqueue(t, o, NewMessage(fmt.Sprint("cb-", i), "+8613800138000"))
				sid := fmt.Sprintf("SM%04d", i)
				if err := o.MarkSent(ctx, m.ID, sid); err != nil {
					t.Fatal(err)
				}
				for _, st := range sc.callbacks {
					code := ""
					if st == hotline.MessageUndelivered || st == hotline.MessageFailed {
						code = "30003"
					}
					if err := o.RecordStatus(ctx, sid, st, code); err != nil {
						t.Fatalf("callback %s: %v", st, err)
					}
				}
				got := MustMessage(t, o, m.ID)
				if got.Status != sc.want {
					t.Errorf("after %v: %s, want %s", sc.callbacks, got.Status, sc.want)
				}
				if wantErr := map[bool]string{true: "30003"}[sc.want == hotline.MessageUndelivered || sc.want == hotline.MessageFailed]; got.Error != wantErr {
					t.Errorf("error %q, want %q", got.Error, wantErr)
				}
			})
		}
		AssertCode(t, o.RecordStatus(ctx, "SMunknown", hotline.MessageDelivered, ""), hotline.ENOTFOUND)
		AssertCode(t, o.RecordStatus(ctx, "SM0000", "exploded", ""), hotline.EINVALID)
	})
}

// MessagesTo lists a number's messages newest first, and only its own.
func TestOutboxMessagesTo(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		o := redisstore.NewOutbox(b.db)
		ctx := context.Background()
		const wang, li = "+8613800138000", "+8613900139000"
		var toWang []string
		for i := range 4 {
			toWang = append(toWang, MustEnqueue(t, o, NewMessage(fmt.Sprint("wang-", i), wang)).ID)
			MustEnqueue(t, o, NewMessage(fmt.Sprint("li-", i), li))
		}
		slices.Reverse(toWang)
		got, err := o.MessagesTo(ctx, wang, 10)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids(got), toWang) {
			t.Errorf("messages to wang: %v, want %v (newest first)", ids(got), toWang)
		}
		if got, _ := o.MessagesTo(ctx, wang, 2); !slices.Equal(ids(got), toWang[:2]) {
			t.Errorf("limit 2: %v, want %v", ids(got), toWang[:2])
		}
		if got, err := o.MessagesTo(ctx, "+8613700137000", 10); err != nil || len(got) != 0 {
			t.Errorf("a number never texted: %v, %v", ids(got), err)
		}
		// A deduplicated enqueue is not listed twice.
		if _, err := o.Enqueue(ctx, NewMessage("wang-3", wang)); err != nil {
			t.Fatal(err)
		}
		if got, _ := o.MessagesTo(ctx, wang, 10); len(got) != 4 {
			t.Errorf("after a duplicate enqueue: %d messages, want 4", len(got))
		}
	})
}
