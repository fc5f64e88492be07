package redisstore

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// checkDigitsScript runs the Lua Damm function the create script uses on
// every ARGV and returns the ids with their check digits.
var checkDigitsScript = redis.NewScript(luaDamm + `
local out = {}
for i = 1, #ARGV do
  out[i] = withcheck(ARGV[i])
end
return out
`)

// LuaTicketIDsWithCheck is hotline.TicketIDWithCheck computed by the Lua
// code of the create script, for tests that keep the two in step.
func LuaTicketIDsWithCheck(ctx context.Context, c redis.UniversalClient, numbers []string) ([]string, error) {
	args := make([]any, len(numbers))
	for i, n := range numbers {
		args[i] = n
	}
	return checkDigitsScript.Run(ctx, c, nil, args...).StringSlice()
}

// Partitions is the fixed partition count, for tests that look at keys.
const Partitions = partitions

// SetFeedMaxLen makes the ticket scripts trim db's feeds to about n entries
// instead of 100,000, so tests can see trimming after a few writes. Set it
// before the first write; it is per DB, so parallel tests do not share it.
func SetFeedMaxLen(db *DB, n int64) { db.feedMaxLen = n }

// CodeGone is the error code ReadSince answers for a trimmed position
// (hotline.EGONE once the root package declares it).
const CodeGone = codeGone

// EchoesTaken counts the feed entries that db's tails got straight from
// this process's writes rather than from XREAD (echo.go).
func EchoesTaken(db *DB) int64 { return db.echo.taken.Load() }
