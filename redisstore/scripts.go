package redisstore

import "github.com/redis/go-redis/v9"

// The scripts below run on Redis 7 and on miniredis (gopher-lua), so they
// keep to Lua 5.1 and the commands both understand. Numbers in Lua are
// doubles: ticket numbers stay far below 2^53, and the rate limiter's
// microsecond clock (about 1.8e15) too.

// luaDamm mirrors hotline.TicketIDWithCheck (ticketid.go). The table is
// one string of 100 digits, row after row: a Lua table literal would be
// built anew on every call of the script. string.byte counts from 1 and
// digit d is byte 48+d, hence the -47 and -48. TestLuaCheckDigitMatchesGo
// keeps the two in step.
const luaDamm = `
local damm = '0317598642709215486342068713591750983426612304597836742095815869720134894536201794386172052581436790'
local function withcheck(s)
  local interim = 0
  for i = 1, #s do
    interim = string.byte(damm, interim * 10 + string.byte(s, i) - 47) - 48
  end
  return s .. interim
end
`

// luaTrack keeps a ticket's derived per-partition state in step with the
// ticket inside the create and update scripts: its entry in the deadline
// queue and the open-ticket counters of the units it leaves and joins.
//
// due: the queue zset; dl: the deadline in unix ms as a decimal string, "0"
// for none. load: the counters hash; dec/inc: unit ids to count one less /
// one more, "" for none (the caller works out which, see loadDeltas).
//
// A counter that would fall below zero is removed instead: that only
// happens for tickets stored before counters existed, and a missing field
// reads as 0, which is nearer the truth than a negative count.
const luaTrack = `
local function track(due, id, dl, load, dec, inc)
  if tonumber(dl) > 0 then
    redis.call('ZADD', due, dl, id)
  else
    redis.call('ZREM', due, id)
  end
  if dec ~= '' then
    if redis.call('HINCRBY', load, dec, -1) <= 0 then
      redis.call('HDEL', load, dec)
    end
  end
  if inc ~= '' then
    redis.call('HINCRBY', load, inc, 1)
  end
end
`

// luaLastID returns the id of a stream's last entry, "0-0" when it has
// none (what an empty partition's feed position holds).
const luaLastID = `
local function lastID(key)
  local last = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)
  if last[1] then
    return last[1][1]
  end
  return '0-0'
end
`

// createScript allocates the next ticket number of a partition and writes
// the ticket, its first event, the feed entry, the indexes, the deadline
// queue entry, the unit's open-ticket counter and the idempotency key in
// one step, so a crash or a concurrent retry can never leave half a ticket
// or two tickets for one key.
//
// The ticket hash and its stream are the only keys not passed in KEYS: their
// names depend on the id chosen here. They are built from ARGV[1], the
// partition's "<prefix>:{pN}:" so they share the hash tag, hence the slot,
// of KEYS[1] and Cluster accepts them.
//
// KEYS: 1 seq, 2 feed, 3 due, 4 load, 5..4+n index zsets, 5+n idempotency
// key (optional).
// ARGV: 1 partition key prefix, 2 partition number, 3/4 ticket JSON before
// and after its id, 5/6 event JSON before and after its ticket id, 7/8
// summary JSON before and after its id, 9 created unix ms (index score),
// 10 feed MAXLEN, 11 idempotency TTL seconds, 12 n, 13 next deadline unix
// ms ("0": none), 14 unit whose open count goes up ("" for none), 15 "1"
// when the caller wants the feed ids (it has live tails to echo to).
//
// Returns {1, id, feed entry id, the feed's previous last entry id ("0-0"
// for none; "" when not wanted)} when created, {0, id} when the key was seen before. The two
// feed ids let this process hand the entry to its own live boards at once
// (see echo.go).
var createScript = redis.NewScript(luaDamm + luaTrack + luaLastID + `
local nidx = tonumber(ARGV[12])
local idem = KEYS[5 + nidx]
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
redis.call('HSET', tkey, 'v', '1', 'd', ARGV[3] .. id .. ARGV[4], 'n', ARGV[13])
redis.call('XADD', tkey .. ':ev', '*', 'e', e)
local prev = ''
if ARGV[15] == '1' then
  prev = lastID(KEYS[2])
end
local fid = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[10], '*', 't', id, 'e', e, 's', ARGV[7] .. id .. ARGV[8])
for i = 5, 4 + nidx do
  redis.call('ZADD', KEYS[i], ARGV[9], id)
end
track(KEYS[3], id, ARGV[13], KEYS[4], '', ARGV[14])
if idem then
  redis.call('SET', idem, id, 'EX', ARGV[11])
end
return {1, id, fid, prev}
`)

// updateScript stores a new version of a ticket if nobody else stored one
// since it was read (optimistic locking on field v), with its event, its
// feed entry, its index memberships, its deadline queue entry and the
// open-ticket counters.
//
// KEYS: 1 ticket hash, 2 ticket stream, 3 feed, 4 due, 5 load, then nrem
// index zsets to leave, then nadd index zsets to join (or rescore).
// ARGV: 1 expected version, 2 new version, 3 ticket JSON, 4 event JSON,
// 5 ticket id, 6 created unix ms, 7 feed MAXLEN, 8 nrem, 9 nadd, 10 summary
// JSON, 11 next deadline unix ms ("0": none), 12/13 units whose open count
// goes down/up ("" for none), 14 "1" when the caller wants the feed ids.
//
// Returns {1, feed entry id, the feed's previous last entry id ("" when
// not wanted)} when stored, {0} when the version moved on, {-1} when the ticket is gone.
var updateScript = redis.NewScript(luaTrack + luaLastID + `
local v = redis.call('HGET', KEYS[1], 'v')
if not v then
  return {-1}
end
if v ~= ARGV[1] then
  return {0}
end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'd', ARGV[3], 'n', ARGV[11])
redis.call('XADD', KEYS[2], '*', 'e', ARGV[4])
local prev = ''
if ARGV[14] == '1' then
  prev = lastID(KEYS[3])
end
local fid = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[7], '*', 't', ARGV[5], 'e', ARGV[4], 's', ARGV[10])
local nrem, nadd = tonumber(ARGV[8]), tonumber(ARGV[9])
for i = 6, 5 + nrem do
  redis.call('ZREM', KEYS[i], ARGV[5])
end
for i = 6 + nrem, 5 + nrem + nadd do
  redis.call('ZADD', KEYS[i], ARGV[6], ARGV[5])
end
track(KEYS[4], ARGV[5], ARGV[11], KEYS[5], ARGV[12], ARGV[13])
return {1, fid, prev}
`)

// claimDueScript hands out the tickets of one partition whose deadline is
// at or before now and pushes each one's score to the end of the lease, in
// one step: a second claimer running at the same time sees the new scores
// and cannot take the same ids.
//
// KEYS: 1 due. ARGV: 1 now unix ms, 2 lease end unix ms, 3 max ids.
// Returns the ids, earliest deadline first.
var claimDueScript = redis.NewScript(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', '0', ARGV[3])
for _, id in ipairs(ids) do
  redis.call('ZADD', KEYS[1], ARGV[2], id)
end
return ids
`)

// rescheduleScript puts a ticket's stored deadline (hash field n) back in
// the queue. It reads n inside the script so that a ticket changed since
// the caller last looked is queued at its current deadline, not a stale
// one. A ticket stored before deadlines existed has no n: it has none.
//
// KEYS: 1 ticket hash, 2 due. ARGV: 1 ticket id.
// Returns 1, or -1 when the ticket is gone.
var rescheduleScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return -1
end
local n = redis.call('HGET', KEYS[1], 'n')
if n and tonumber(n) > 0 then
  redis.call('ZADD', KEYS[2], n, ARGV[1])
else
  redis.call('ZREM', KEYS[2], ARGV[1])
end
return 1
`)

// swapGeoScript puts freshly written GEO sets in place of the live ones in
// one step, so a search never sees half an index: it renames each temp key
// over its live key, deletes the live keys the new index no longer has,
// and replaces the list of live keys. The old list is read here, not by
// the caller, so two replicas indexing at once cannot leave a stale set
// behind. The old keys are not in KEYS (they are only known here); they
// share the {units} hash tag, hence the slot, of KEYS[1].
//
// KEYS: 1 geokeys, then n temp keys, then their n live keys.
// ARGV: 1 n.
var swapGeoScript = redis.NewScript(`
local n = tonumber(ARGV[1])
-- Check before writing anything: a script that fails halfway keeps its
-- first writes, and half a swap is what this script exists to prevent.
for i = 2, 1 + n do
  if redis.call('EXISTS', KEYS[i]) == 0 then
    return redis.error_reply('ERR temporary GEO set ' .. KEYS[i] .. ' is missing')
  end
end
local keep = {}
for i = 2 + n, 1 + 2 * n do
  keep[KEYS[i]] = true
end
for _, k in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if not keep[k] then
    redis.call('DEL', k)
  end
end
redis.call('DEL', KEYS[1])
for i = 2, 1 + n do
  redis.call('RENAME', KEYS[i], KEYS[i + n])
  redis.call('SADD', KEYS[1], KEYS[i + n])
end
return n
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
