package redistest_test

import (
	"context"
	"testing"

	"github.com/caojiadu/hotline/internal/redistest"
)

func TestNewGivesAWorkingServerAndFreshPrefixes(t *testing.T) {
	c, p1 := redistest.New(t)
	_, p2 := redistest.New(t)
	if p1 == p2 {
		t.Fatalf("prefixes not unique: %q", p1)
	}
	if err := c.Set(context.Background(), p1+":k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := c.Get(context.Background(), p1+":k").Result()
	if err != nil || got != "v" {
		t.Fatalf("got %q, %v; want v", got, err)
	}
}
