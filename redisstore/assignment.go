package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/redis/go-redis/v9"
)

// AssignmentStore keeps volunteers' task offers, their answer deadlines
// and the hours given. Every key lives under the {asg} hash tag, so one
// script writes an assignment together with all its indexes (one Cluster
// slot; a street's assignments are a few thousand a year):
//
//	P:{asg}:seq              INCR, assignment ids are "a<n>"
//	P:{asg}:a:<id>           hash: v (version), d (JSON), st (status),
//	                         rb (RespondBy ms of an offer, 0 otherwise)
//	P:{asg}:ticket:<ticket>  zset, the ticket's assignment ids by OfferedAt ms
//	P:{asg}:vol:<volunteer>  zset, the volunteer's assignment ids by OfferedAt ms
//	P:{asg}:open             hash, volunteer id → open (offered or accepted) count
//	P:{asg}:pair             hash, "<ticket>|<volunteer>" → the open assignment's id
//	P:{asg}:due              zset, offered ids by RespondBy ms (a claim moves the
//	                         score to the lease end)
//	P:{asg}:done             zset, done ids by DoneAt ms (the hours reports)
//
// Nothing expires: the hours are the street's annual record.
type AssignmentStore struct {
	db *DB
}

var _ hotline.AssignmentStore = (*AssignmentStore)(nil)

// NewAssignmentStore returns the assignment store on db.
func NewAssignmentStore(db *DB) *AssignmentStore { return &AssignmentStore{db: db} }

func (s *AssignmentStore) key(parts ...string) string {
	return join(s.db.prefix+":{asg}", parts)
}

// luaAsgOpen is the open-status test every script shares
// (hotline.AssignmentStatus.Open).
const luaAsgOpen = `
local function isopen(st)
  return st == 'offered' or st == 'accepted'
end
`

// createAssignmentScript stores a new assignment unless the volunteer
// already holds an open one on the ticket; the check, the write, the
// indexes and the open count are one step.
//
// KEYS: 1 assignment hash, 2 ticket zset, 3 volunteer zset, 4 open,
// 5 pair, 6 due, 7 done. ARGV: 1 id, 2 JSON, 3 status, 4 RespondBy ms,
// 5 OfferedAt ms, 6 volunteer id, 7 pair field, 8 DoneAt ms.
// Returns {1}, or {0, the open assignment's id} on a conflict.
var createAssignmentScript = redis.NewScript(luaAsgOpen + `
local open = isopen(ARGV[3])
if open then
  local other = redis.call('HGET', KEYS[5], ARGV[7])
  if other then
    return {0, other}
  end
end
redis.call('HSET', KEYS[1], 'v', '1', 'd', ARGV[2], 'st', ARGV[3], 'rb', ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1])
if open then
  redis.call('HSET', KEYS[5], ARGV[7], ARGV[1])
  redis.call('HINCRBY', KEYS[4], ARGV[6], 1)
end
if ARGV[3] == 'offered' and tonumber(ARGV[4]) > 0 then
  redis.call('ZADD', KEYS[6], ARGV[4], ARGV[1])
end
if ARGV[3] == 'done' then
  redis.call('ZADD', KEYS[7], ARGV[8], ARGV[1])
end
return {1}
`)

// updateAssignmentScript stores a changed assignment if its version is
// still the one read, and moves it in the indexes: the open count and the
// pair when it opens or closes, the due zset when it becomes an offer (or
// its RespondBy moves) or stops being one, the done zset. An offer whose
// status and RespondBy stay keeps its due score, so a claim's lease holds.
//
// KEYS: 1 assignment hash, 2 open, 3 pair, 4 due, 5 done.
// ARGV: 1 id, 2 version read, 3 new version, 4 JSON, 5 status,
// 6 RespondBy ms, 7 volunteer id, 8 pair field, 9 DoneAt ms.
// Returns 1, 0 when the version changed, -1 when the assignment is gone.
var updateAssignmentScript = redis.NewScript(luaAsgOpen + `
local cur = redis.call('HMGET', KEYS[1], 'v', 'st', 'rb')
if not cur[1] then
  return -1
end
if cur[1] ~= ARGV[2] then
  return 0
end
local was, now = isopen(cur[2]), isopen(ARGV[5])
if was and not now then
  if redis.call('HGET', KEYS[3], ARGV[8]) == ARGV[1] then
    redis.call('HDEL', KEYS[3], ARGV[8])
  end
  if redis.call('HINCRBY', KEYS[2], ARGV[7], -1) <= 0 then
    redis.call('HDEL', KEYS[2], ARGV[7])
  end
elseif now and not was then
  redis.call('HSET', KEYS[3], ARGV[8], ARGV[1])
  redis.call('HINCRBY', KEYS[2], ARGV[7], 1)
end
if ARGV[5] == 'offered' and tonumber(ARGV[6]) > 0 then
  if cur[2] ~= 'offered' or cur[3] ~= ARGV[6] then
    redis.call('ZADD', KEYS[4], ARGV[6], ARGV[1])
  end
else
  redis.call('ZREM', KEYS[4], ARGV[1])
end
if ARGV[5] == 'done' then
  redis.call('ZADD', KEYS[5], ARGV[9], ARGV[1])
else
  redis.call('ZREM', KEYS[5], ARGV[1])
end
redis.call('HSET', KEYS[1], 'v', ARGV[3], 'd', ARGV[4], 'st', ARGV[5], 'rb', ARGV[6])
return 1
`)

// claimExpiredScript is claimDueScript for offers: it hands out the
// offers whose RespondBy is at or before now and moves their scores to the
// lease end in one step, so two replicas never take the same one. An id
// that is no longer an offer leaves the zset.
//
// KEYS: 1 due. ARGV: 1 "P:{asg}:a:", 2 now ms, 3 lease end ms, 4 max.
// Returns the assignments' JSON, earliest RespondBy first.
var claimExpiredScript = redis.NewScript(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', '0', ARGV[4])
local out = {}
for _, id in ipairs(ids) do
  local a = redis.call('HMGET', ARGV[1] .. id, 'd', 'st')
  if a[1] and a[2] == 'offered' then
    redis.call('ZADD', KEYS[1], ARGV[3], id)
    out[#out + 1] = a[1]
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
`)

func asgNotFound() error {
	return hotline.Errorf(hotline.ENOTFOUND, "no such assignment")
}

func pairField(ticketID, volunteerID string) string { return ticketID + "|" + volunteerID }

func msOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func validAssignment(a *hotline.Assignment) error {
	fe := hotline.FieldErrors{}
	if a.TicketID == "" {
		fe.Add("ticket_id", "required: the ticket the task is about")
	}
	if a.VolunteerID == "" {
		fe.Add("volunteer_id", "required: the volunteer offered the task")
	}
	switch a.Status {
	case hotline.AssignmentOffered, hotline.AssignmentAccepted, hotline.AssignmentDeclined,
		hotline.AssignmentExpired, hotline.AssignmentDone, hotline.AssignmentWithdrawn:
	default:
		fe.Add("status", fmt.Sprintf("unknown status %q", a.Status))
	}
	if a.Hours < 0 {
		fe.Add("hours", "cannot be negative")
	}
	return fe.Err()
}

// CreateAssignment implements hotline.AssignmentStore: a gets its ID
// ("a<n>"), Version 1, OfferedAt and UpdatedAt (now when zero); times are
// kept to the millisecond. Errors: EINVALID, ECONFLICT (the volunteer
// holds an open assignment on the ticket already), EUNAVAILABLE.
func (s *AssignmentStore) CreateAssignment(ctx context.Context, a *hotline.Assignment) error {
	if a == nil {
		return hotline.Errorf(hotline.EINVALID, "no assignment given")
	}
	if a.Status == "" {
		a.Status = hotline.AssignmentOffered
	}
	if err := validAssignment(a); err != nil {
		return err
	}
	c := *a
	now := time.Now().UTC().Truncate(time.Millisecond)
	if c.OfferedAt.IsZero() {
		c.OfferedAt = now
	}
	c.OfferedAt = c.OfferedAt.UTC().Truncate(time.Millisecond)
	c.UpdatedAt = now
	c.Version = 1
	n, err := s.db.client.Incr(ctx, s.key("seq")).Result()
	if err != nil {
		return storeErr(err)
	}
	c.ID = "a" + strconv.FormatInt(n, 10)
	d, err := json.Marshal(&c)
	if err != nil {
		return hotline.Internal(err)
	}
	res, err := createAssignmentScript.Run(ctx, s.db.client,
		[]string{s.key("a", c.ID), s.key("ticket", c.TicketID), s.key("vol", c.VolunteerID),
			s.key("open"), s.key("pair"), s.key("due"), s.key("done")},
		c.ID, d, string(c.Status), respondByMS(&c), c.OfferedAt.UnixMilli(), c.VolunteerID,
		pairField(c.TicketID, c.VolunteerID), msOrZero(c.DoneAt)).Slice()
	if err != nil {
		return storeErr(err)
	}
	if len(res) == 0 {
		return hotline.Internal(fmt.Errorf("create assignment script answered %v", res))
	}
	if ok, _ := res[0].(int64); ok != 1 {
		other := ""
		if len(res) > 1 {
			other, _ = res[1].(string)
		}
		return hotline.Errorf(hotline.ECONFLICT, "the volunteer already has an open task on ticket %s (assignment %s)", c.TicketID, other)
	}
	*a = c
	return nil
}

// respondByMS is the due score of an assignment: its RespondBy while it
// is an offer, 0 otherwise.
func respondByMS(a *hotline.Assignment) int64 {
	if a.Status != hotline.AssignmentOffered {
		return 0
	}
	return msOrZero(a.RespondBy)
}

// FindAssignment implements hotline.AssignmentStore. Errors: ENOTFOUND,
// EUNAVAILABLE.
func (s *AssignmentStore) FindAssignment(ctx context.Context, id string) (*hotline.Assignment, error) {
	if id == "" {
		return nil, asgNotFound()
	}
	d, err := s.db.client.HGet(ctx, s.key("a", id), "d").Result()
	if errors.Is(err, redis.Nil) {
		return nil, asgNotFound()
	} else if err != nil {
		return nil, storeErr(err)
	}
	return decodeAssignment(d)
}

func decodeAssignment(d string) (*hotline.Assignment, error) {
	var a hotline.Assignment
	if err := json.Unmarshal([]byte(d), &a); err != nil {
		return nil, hotline.Internal(fmt.Errorf("decode stored assignment: %w", err))
	}
	return &a, nil
}

// UpdateAssignment implements hotline.AssignmentStore with optimistic
// locking, as UpdateTicket: change runs on a fresh copy and may run again
// when another writer got there first. A change that changes nothing
// writes nothing (the version stays), so repeating an answer is free. It may not move the assignment to
// another ticket or volunteer. Errors: ENOTFOUND, EINVALID, ECONFLICT
// (retries exhausted, or reopening an assignment while the volunteer holds
// another open one on the ticket), whatever change returns, EUNAVAILABLE.
func (s *AssignmentStore) UpdateAssignment(ctx context.Context, id string, change hotline.AssignmentChange) (*hotline.Assignment, error) {
	for attempt := range updateAttempts {
		if attempt > 0 {
			d := time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt-1, 5)))
			select {
			case <-ctx.Done():
				return nil, hotline.Unavailable(ctx.Err())
			case <-time.After(d):
			}
		}
		cur, err := s.FindAssignment(ctx, id)
		if err != nil {
			return nil, err
		}
		next := *cur
		if err := change(&next); err != nil {
			return nil, err
		}
		if next.TicketID != cur.TicketID || next.VolunteerID != cur.VolunteerID {
			return nil, hotline.Errorf(hotline.EINVALID, "an assignment cannot move to another ticket or volunteer; withdraw it and assign anew")
		}
		if err := validAssignment(&next); err != nil {
			return nil, err
		}
		if !cur.Status.Open() && next.Status.Open() {
			return nil, hotline.Errorf(hotline.ECONFLICT, "assignment %s is %s; it cannot be reopened, assign anew", id, cur.Status)
		}
		if same, err := sameAssignment(cur, &next); err != nil {
			return nil, err
		} else if same {
			return cur, nil // nothing changed: no new version
		}
		next.ID, next.Version = cur.ID, cur.Version+1
		next.UpdatedAt = time.Now().UTC().Truncate(time.Millisecond)
		d, err := json.Marshal(&next)
		if err != nil {
			return nil, hotline.Internal(err)
		}
		res, err := updateAssignmentScript.Run(ctx, s.db.client,
			[]string{s.key("a", id), s.key("open"), s.key("pair"), s.key("due"), s.key("done")},
			id, cur.Version, next.Version, d, string(next.Status), respondByMS(&next), next.VolunteerID,
			pairField(next.TicketID, next.VolunteerID), msOrZero(next.DoneAt)).Int64()
		if err != nil {
			return nil, storeErr(err)
		}
		switch res {
		case 1:
			return &next, nil
		case -1:
			return nil, asgNotFound()
		}
	}
	return nil, hotline.Errorf(hotline.ECONFLICT, "assignment %s is being changed by someone else; try again", id)
}

// sameAssignment reports whether a change left the assignment as it was
// (its version and UpdatedAt aside).
func sameAssignment(a, b *hotline.Assignment) (bool, error) {
	x, y := *a, *b
	x.Version, y.Version, x.UpdatedAt, y.UpdatedAt = 0, 0, time.Time{}, time.Time{}
	bx, err := json.Marshal(&x)
	if err != nil {
		return false, hotline.Internal(err)
	}
	by, err := json.Marshal(&y)
	if err != nil {
		return false, hotline.Internal(err)
	}
	return string(bx) == string(by), nil
}

// list loads the assignments of a zset, newest first.
func (s *AssignmentStore) list(ctx context.Context, key string) ([]*hotline.Assignment, error) {
	ids, err := s.db.client.ZRevRange(ctx, key, 0, -1).Result()
	if err != nil {
		return nil, storeErr(err)
	}
	return s.load(ctx, ids)
}

// load reads assignments by id, in order, skipping missing ones.
func (s *AssignmentStore) load(ctx context.Context, ids []string) ([]*hotline.Assignment, error) {
	out := make([]*hotline.Assignment, 0, len(ids))
	const chunk = 500
	for len(ids) > 0 {
		part := ids[:min(chunk, len(ids))]
		ids = ids[len(part):]
		pipe := s.db.client.Pipeline()
		cmds := make([]*redis.StringCmd, len(part))
		for i, id := range part {
			cmds[i] = pipe.HGet(ctx, s.key("a", id), "d")
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, storeErr(err)
		}
		for _, c := range cmds {
			d, err := c.Result()
			if errors.Is(err, redis.Nil) {
				continue
			} else if err != nil {
				return nil, storeErr(err)
			}
			a, err := decodeAssignment(d)
			if err != nil {
				return nil, err
			}
			out = append(out, a)
		}
	}
	return out, nil
}

// TicketAssignments implements hotline.AssignmentStore: newest offer
// first. Errors: EUNAVAILABLE.
func (s *AssignmentStore) TicketAssignments(ctx context.Context, ticketID string) ([]*hotline.Assignment, error) {
	return s.list(ctx, s.key("ticket", ticketID))
}

// VolunteerAssignments implements hotline.AssignmentStore: newest offer
// first. Errors: EUNAVAILABLE.
func (s *AssignmentStore) VolunteerAssignments(ctx context.Context, volunteerID string) ([]*hotline.Assignment, error) {
	return s.list(ctx, s.key("vol", volunteerID))
}

// OpenTasks implements hotline.AssignmentStore: every id asked for is in
// the map, 0 when the volunteer holds nothing open. Errors: EUNAVAILABLE.
func (s *AssignmentStore) OpenTasks(ctx context.Context, volunteerIDs []string) (map[string]int, error) {
	out := make(map[string]int, len(volunteerIDs))
	if len(volunteerIDs) == 0 {
		return out, nil
	}
	vals, err := s.db.client.HMGet(ctx, s.key("open"), volunteerIDs...).Result()
	if err != nil {
		return nil, storeErr(err)
	}
	for i, id := range volunteerIDs {
		n := 0
		if str, ok := vals[i].(string); ok {
			n, _ = strconv.Atoi(str)
		}
		out[id] = max(n, 0)
	}
	return out, nil
}

// ClaimExpired implements hotline.AssignmentStore: up to n offers whose
// RespondBy is at or before now, earliest first, each hidden from other
// claimers until now+lease. Handling one changes it (expired, which takes
// it out of the queue); a claimer that dies leaves it to come due again
// after the lease. Errors: EINVALID (lease not positive), EUNAVAILABLE.
func (s *AssignmentStore) ClaimExpired(ctx context.Context, now time.Time, lease time.Duration, n int) ([]*hotline.Assignment, error) {
	if lease <= 0 {
		return nil, hotline.Errorf(hotline.EINVALID, "claim lease must be positive, got %v", lease)
	}
	if n <= 0 {
		return nil, nil
	}
	nowMS := now.UnixMilli()
	until := nowMS + (lease + time.Millisecond - 1).Milliseconds()
	ds, err := claimExpiredScript.Run(ctx, s.db.client, []string{s.key("due")},
		s.key("a")+":", nowMS, until, n).StringSlice()
	if err != nil {
		return nil, storeErr(err)
	}
	out := make([]*hotline.Assignment, 0, len(ds))
	for _, d := range ds {
		a, err := decodeAssignment(d)
		if err != nil {
			return out, err
		}
		out = append(out, a)
	}
	return out, nil
}

// Done implements hotline.AssignmentStore: the assignments whose DoneAt is
// in [from, to), oldest first; a zero to means no upper bound.
// Errors: EUNAVAILABLE.
func (s *AssignmentStore) Done(ctx context.Context, from, to time.Time) ([]*hotline.Assignment, error) {
	lo, hi := "-inf", "+inf"
	if !from.IsZero() {
		lo = strconv.FormatInt(from.UnixMilli(), 10)
	}
	if !to.IsZero() {
		hi = "(" + strconv.FormatInt(to.UnixMilli(), 10)
	}
	ids, err := s.db.client.ZRangeByScore(ctx, s.key("done"), &redis.ZRangeBy{Min: lo, Max: hi}).Result()
	if err != nil {
		return nil, storeErr(err)
	}
	return s.load(ctx, ids)
}
