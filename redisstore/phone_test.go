package redisstore_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/redisstore"
)

func TestOptOutAndIn(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.NewOptOuts(b.db)
		ctx := context.Background()
		const wang, li = "+8613800138000", "+8613900139000"
		optedOut := func(phone string) bool {
			t.Helper()
			ok, err := s.OptedOut(ctx, phone)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if optedOut(wang) {
			t.Fatal("a number nobody opted out reads as opted out")
		}
		for range 2 { // STOP twice is STOP once
			if err := s.OptOut(ctx, wang); err != nil {
				t.Fatal(err)
			}
		}
		if !optedOut(wang) || optedOut(li) {
			t.Errorf("after wang's STOP: wang %v, li %v; want true, false", optedOut(wang), optedOut(li))
		}
		if err := s.OptIn(ctx, wang); err != nil {
			t.Fatal(err)
		}
		if optedOut(wang) {
			t.Error("still opted out after START")
		}
		if err := s.OptIn(ctx, li); err != nil {
			t.Errorf("opting in a number never opted out: %v", err)
		}
		AssertCode(t, s.OptOut(ctx, ""), hotline.EINVALID)

		// The number is never written in clear.
		s.OptOut(ctx, wang)
		for _, k := range MustKeys(t, b.db.Client(), b.db.Prefix()+":*") {
			if strings.Contains(k, "13800138000") {
				t.Errorf("key %s holds the number", k)
			}
			for _, f := range b.db.Client().HKeys(ctx, k).Val() {
				if strings.Contains(f, "13800138000") {
					t.Errorf("key %s field %s holds the number", k, f)
				}
			}
		}
	})
}

// callState is what the IVR keeps about a call between webhooks.
type callState struct {
	Step     string `json:"step"`
	Category string `json:"category,omitempty"`
}

func TestPhoneSessionSaveLoadDelete(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.NewPhoneSessions(b.db)
		ctx := context.Background()
		var got callState
		if ok, err := s.Load(ctx, "call:CA1", &got); ok || err != nil {
			t.Fatalf("load before save: %v, %v; want false, nil", ok, err)
		}
		want := callState{Step: "category", Category: "home_repair"}
		if err := s.Save(ctx, "call:CA1", want, time.Hour); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.Load(ctx, "call:CA1", &got); !ok || err != nil || got != want {
			t.Errorf("load: %+v, %v, %v; want %+v", got, ok, err, want)
		}
		if err := s.Delete(ctx, "call:CA1"); err != nil {
			t.Fatal(err)
		}
		if ok, _ := s.Load(ctx, "call:CA1", &got); ok {
			t.Error("loaded a deleted session")
		}
		AssertCode(t, s.Save(ctx, "call:CA2", want, 0), hotline.EINVALID)
	})
}

// A session is gone once its TTL has passed.
func TestPhoneSessionExpires(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.NewPhoneSessions(b.db)
		ctx := context.Background()
		if err := s.Save(ctx, "sms:+8613800138000", callState{Step: "confirm"}, 200*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		var got callState
		if ok, _ := s.Load(ctx, "sms:+8613800138000", &got); !ok {
			t.Fatal("not there before its TTL")
		}
		b.wait(300 * time.Millisecond)
		if ok, _ := s.Load(ctx, "sms:+8613800138000", &got); ok {
			t.Error("still there after its TTL")
		}
	})
}

// A webhook's first answer is the answer to all its retries, also to
// retries racing it, until the TTL passes.
func TestPhoneSessionRemember(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.NewPhoneSessions(b.db)
		ctx := context.Background()
		const key = "reply:SM0001"
		stored, first, err := s.Remember(ctx, key, []byte("<Response>1</Response>"), 200*time.Millisecond)
		if err != nil || !first || string(stored) != "<Response>1</Response>" {
			t.Fatalf("first: %q, %v, %v; want its own reply, true", stored, first, err)
		}
		stored, first, err = s.Remember(ctx, key, []byte("<Response>2</Response>"), 200*time.Millisecond)
		if err != nil || first || string(stored) != "<Response>1</Response>" {
			t.Errorf("retry: %q, %v, %v; want the first reply, false", stored, first, err)
		}
		b.wait(300 * time.Millisecond)
		stored, first, err = s.Remember(ctx, key, []byte("<Response>3</Response>"), time.Minute)
		if err != nil || !first || string(stored) != "<Response>3</Response>" {
			t.Errorf("after the TTL: %q, %v, %v; want the new reply, true", stored, first, err)
		}

		var wg sync.WaitGroup
		var mu sync.Mutex
		firsts, answers := 0, map[string]bool{}
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				stored, first, err := s.Remember(ctx, "reply:SM0002", []byte{'a' + byte(i)}, time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if first {
					firsts++
				}
				answers[string(stored)] = true
			}()
		}
		wg.Wait()
		if firsts != 1 || len(answers) != 1 {
			t.Errorf("8 racing deliveries: %d firsts, answers %v; want 1 first and one answer", firsts, answers)
		}
		_, _, err = s.Remember(ctx, "reply:SM0003", []byte("x"), 0)
		AssertCode(t, err, hotline.EINVALID)
	})
}
