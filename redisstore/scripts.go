package redisstore

import "github.com/redis/go-redis/v9"

// The scripts below run on Redis 7 and on miniredis (gopher-lua), so they
// keep to Lua 5.1 and the commands both understand. Numbers in Lua are
// doubles: ticket numbers stay far below 2^53, and the rate limiter's
// microsecond clock (about 1.8e15) too.

// luaDamm mirrors hotline.TicketIDWithCheck (ticketid.go); Lua tables
// count from 1, hence the +1 on both indices. TestLuaCheckDigitMatchesGo
// keeps the two in step.
const luaDamm = `
local damm = {
  {0, 3, 1, 7, 5, 9, 8, 6, 4, 2},
  {7, 0, 9, 2, 1, 5, 4, 8, 6, 3},
  {4, 2, 0, 6, 8, 7, 1, 3, 5, 9},
  {1, 7, 5, 0, 9, 8, 3, 4, 2, 6},
  {6, 1, 2, 3, 0, 4, 5, 9, 7, 8},
  {3, 6, 7, 4, 2, 0, 9, 5, 8, 1},
  {5, 8, 6, 9, 7, 2, 0, 1, 3, 4},
  {8, 9, 4, 5, 3, 6, 2, 0, 1, 7},
  {9, 4, 3, 8, 6, 1, 7, 2, 0, 5},
  {2, 5, 8, 1, 4, 3, 6, 7, 9, 0},
}
local function withcheck(s)
  local interim = 0
  for i = 1, #s do
    interim = damm[interim + 1][string.byte(s, i) - 47]
  end
  return s .. string.format('%d', interim)
end
`

// createScript allocates the next ticket number of a partition and writes
// the ticket, its first event, the feed entry, the indexes and the
// idempotency key in one step, so a crash or a concurrent retry can never
// leave half a ticket or two tickets for one key.
//
// The ticket hash and its stream are the only keys not passed in KEYS: their
// names depend on the id chosen here. They are built from ARGV[1], the
// partition's "<prefix>:{pN}:" so they share the hash tag, hence the slot,
// of KEYS[1] and Cluster accepts them.
//
// KEYS: 1 seq, 2 feed, 3..2+n index zsets, 3+n idempotency key (optional)
// ARGV: 1 partition key prefix, 2 partition number, 3/4 ticket JSON before
// and after its id, 5/6 event JSON before and after its ticket id,
// 7 created unix ms (index score), 8 feed MAXLEN, 9 idempotency TTL seconds,
// 10 n.
//
// Returns {1, id} when created, {0, id} when the key was seen before.
var createScript = redis.NewScript(luaDamm + `
local nidx = tonumber(ARGV[10])
local idem = KEYS[3 + nidx]
if idem then
  local existing = redis.call('GET', idem)
  if existing then
    return {0, existing}
  end
end
local seq = redis.call('INCR', KEYS[1])
if seq < 1000 then
  -- ids start at four digits plus the check digit: short to read out, yet
  -- never confused with a house number or a count.
  redis.call('SET', KEYS[1], 1000)
  seq = 1000
end
local id = withcheck(string.format('%d', seq * 16 + tonumber(ARGV[2])))
local tkey = ARGV[1] .. 't:' .. id
if redis.call('EXISTS', tkey) == 1 then
  return redis.error_reply('ERR ticket ' .. id .. ' already exists: the sequence key was reset')
end
local e = ARGV[5] .. id .. ARGV[6]
redis.call('HSET', tkey, 'v', '1', 'd', ARGV[3] .. id .. ARGV[4])
redis.call('XADD', tkey .. ':ev', '*', 'e', e)
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[8], '*', 't', id, 'e', e)
for i = 3, 2 + nidx do
  redis.call('ZADD', KEYS[i], ARGV[7], id)
end
if idem then
  redis.call('SET', idem, id, 'EX', ARGV[9])
end
return {1, id}
`)

// updateScript stores a new version of a ticket if nobody else stored one
// since it was read (optimistic locking on field v), with its event, its
// feed entry and its index memberships.
//
// KEYS: 1 ticket hash, 2 ticket stream, 3 feed, then nrem index zsets to
// leave, then nadd index zsets to join (or rescore).
// ARGV: 1 expected version, 2 new version, 3 ticket JSON, 4 event JSON,
// 5 ticket id, 6 created unix ms, 7 feed MAXLEN, 8 nrem, 9 nadd.
//
// Returns 1 when stored, 0 when the version moved on, -1 when the ticket is
// gone.
var updateScript = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], 'v')
if not v then
  return -1
end
if v ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'd', ARGV[3])
redis.call('XADD', KEYS[2], '*', 'e', ARGV[4])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[7], '*', 't', ARGV[5], 'e', ARGV[4])
local nrem, nadd = tonumber(ARGV[8]), tonumber(ARGV[9])
for i = 4, 3 + nrem do
  redis.call('ZREM', KEYS[i], ARGV[5])
end
for i = 4 + nrem, 3 + nrem + nadd do
  redis.call('ZADD', KEYS[i], ARGV[6], ARGV[5])
end
return 1
`)

// allowScript is the generic cell rate algorithm (GCRA): one string per
// key holding the "theoretical arrival time" of the next request, on the
// server's clock in microseconds so that every replica counts against the
// same time. It lets a burst of `limit` requests through, then one every
// window/limit; it costs three O(1) commands and one small key whatever the
// limit, where a log of requests would grow with it.
//
// KEYS: 1 the key. ARGV: 1 window in µs, 2 limit.
// Returns {1, 0} when allowed, {0, µs to wait} when not.
var allowScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[1])
local interval = window / tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then
  tat = now
end
local new = tat + interval
local wait = new - window - now
if wait > 0 then
  return {0, math.ceil(wait)}
end
redis.call('SET', KEYS[1], string.format('%d', new), 'PX', math.max(1, math.ceil((new - now) / 1000)))
return {1, 0}
`)
