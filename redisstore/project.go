package redisstore

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/redis/go-redis/v9"
)

// ProjectStore keeps the annual service projects and the record of the
// grouping runs. Every key lives under the {prj} hash tag: a street has
// hundreds of projects, a city some thousands, so one slot holds them all
// and one script writes a project and every index it joins or leaves,
// also on a Cluster:
//
//	P:{prj}:seq          string, the last project number handed out
//	P:{prj}:p:<id>       hash: v (version), d (the project's JSON),
//	                     s (status), y (year), h (contentHash of d)
//	P:{prj}:all          zset of ids by created ms (newest-first listing)
//	P:{prj}:st:<status>  zset, ids by created ms, per status
//	P:{prj}:yr:<year>    zset, ids by created ms, per planned year
//	P:{prj}:runs         list of GroupingRun JSON, newest first, 100 kept
//	P:{prj}:runseq       string, the last run number handed out
type ProjectStore struct {
	db *DB
}

var _ hotline.ProjectStore = (*ProjectStore)(nil)

// NewProjectStore returns the project store on db.
func NewProjectStore(db *DB) *ProjectStore { return &ProjectStore{db: db} }

const (
	// runsKept is how many grouping runs the store remembers: three months
	// of nightly runs, more than anyone pages back through.
	runsKept = 100
	// projectAttempts bounds the optimistic retries of UpdateProject and
	// SaveDraft, as updateAttempts does for tickets.
	projectAttempts = 10
)

func (s *ProjectStore) key(parts ...string) string {
	return join(s.db.prefix+":{prj}", parts)
}

func (s *ProjectStore) pkey(id string) string { return s.key("p", id) }

// projectWriteScript stores one project: checks the version it was read at
// (or that it is new) and, for the job's drafts, that the stored project is
// still a draft or retired; then writes it and moves it between index
// zsets. The caller works out which zsets to leave and join.
//
// KEYS: 1 the project hash, then nrem zsets to leave, nadd zsets to join.
// ARGV: 1 version read ("0": must not exist), 2 new version, 3 JSON, 4 id,
// 5 created ms (index score), 6 status, 7 year, 8 content hash, 9 nrem,
// 10 nadd, 11 "draft" to require a stored draft or retired project.
//
// Returns {1} when stored, {0} when it exists (create) or its version moved
// on, {-1} when it is gone, {-3, status} when a draft-only write finds the
// project in another status (a social worker's: left as it is).
var projectWriteScript = redis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 'v', 's')
local v, st = cur[1], cur[2]
if ARGV[1] == '0' then
  if v then return {0} end
else
  if not v then return {-1} end
  if ARGV[11] == 'draft' and st ~= 'draft' and st ~= 'retired' then
    return {-3, st}
  end
  if v ~= ARGV[1] then return {0} end
end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'd', ARGV[3], 's', ARGV[6], 'y', ARGV[7], 'h', ARGV[8])
local nrem, nadd = tonumber(ARGV[9]), tonumber(ARGV[10])
local i = 2
for _ = 1, nrem do
  redis.call('ZREM', KEYS[i], ARGV[4])
  i = i + 1
end
for _ = 1, nadd do
  redis.call('ZADD', KEYS[i], ARGV[5], ARGV[4])
  i = i + 1
end
return {1}
`)

// projectIndexes returns the zsets p belongs to.
func (s *ProjectStore) projectIndexes(p *hotline.Project) []string {
	if p == nil {
		return nil
	}
	return []string{s.key("all"), s.key("st", string(p.Status)), s.key("yr", strconv.Itoa(p.Year))}
}

// contentHash identifies what a project says, leaving out what every
// write changes (version, times, who): SaveDraft skips a draft whose
// content the run did not change, so a rerun on the same tickets leaves
// versions where they were and nobody's open page goes stale.
func contentHash(p *hotline.Project) (string, error) {
	c := *p
	c.Version, c.CreatedAt, c.UpdatedAt, c.GeneratedAt, c.UpdatedBy = 0, time.Time{}, time.Time{}, time.Time{}, ""
	b, err := json.Marshal(&c)
	if err != nil {
		return "", hotline.Internal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8]), nil
}

// write runs projectWriteScript storing next over prev (nil: create).
// It returns the script's code and, for -3, the stored status.
func (s *ProjectStore) write(ctx context.Context, prev, next *hotline.Project, draftOnly bool) (int64, error) {
	b, err := json.Marshal(next)
	if err != nil {
		return 0, hotline.Internal(err)
	}
	h, err := contentHash(next)
	if err != nil {
		return 0, err
	}
	oldIdx, newIdx := s.projectIndexes(prev), s.projectIndexes(next)
	var rem, add []string
	for _, k := range oldIdx {
		if !slices.Contains(newIdx, k) {
			rem = append(rem, k)
		}
	}
	for _, k := range newIdx {
		if !slices.Contains(oldIdx, k) {
			add = append(add, k)
		}
	}
	read := "0"
	if prev != nil {
		read = strconv.FormatInt(prev.Version, 10)
	}
	mode := ""
	if draftOnly {
		mode = "draft"
	}
	keys := make([]string, 0, 1+len(rem)+len(add))
	keys = append(keys, s.pkey(next.ID))
	keys = append(keys, rem...)
	keys = append(keys, add...)
	raw, err := projectWriteScript.Run(ctx, s.db.client, keys, read, next.Version, b, next.ID,
		next.CreatedAt.UnixMilli(), string(next.Status), next.Year, h, len(rem), len(add), mode).Slice()
	if err != nil {
		return 0, storeErr(err)
	}
	if len(raw) == 0 {
		return 0, hotline.Internal(errors.New("project write answered nothing"))
	}
	code, _ := raw[0].(int64)
	return code, nil
}

func projectNotFound(id string) error {
	return hotline.Errorf(hotline.ENOTFOUND, "no project %s", id)
}

func checkProject(p *hotline.Project) error {
	fe := hotline.FieldErrors{}
	if !p.Status.Valid() {
		fe.Add("status", "unknown project status")
	}
	if p.Year < 0 {
		fe.Add("year", "must not be negative")
	}
	return fe.Err()
}

// newProjectID hands out the next id: "P" and six digits (more when a
// deployment ever passes a million projects).
func (s *ProjectStore) newProjectID(ctx context.Context) (string, error) {
	n, err := s.db.client.Incr(ctx, s.key("seq")).Result()
	if err != nil {
		return "", storeErr(err)
	}
	return fmt.Sprintf("P%06d", n), nil
}

// CreateProject implements hotline.ProjectStore. It sets p.ID, p.Version,
// p.Status (draft when empty) and, when zero, p.CreatedAt and p.UpdatedAt.
func (s *ProjectStore) CreateProject(ctx context.Context, p *hotline.Project) error {
	if p == nil {
		return hotline.Errorf(hotline.EINVALID, "no project given")
	}
	c := *p
	if c.Status == "" {
		c.Status = hotline.ProjectDraft
	}
	if err := checkProject(&c); err != nil {
		return err
	}
	id, err := s.newProjectID(ctx)
	if err != nil {
		return err
	}
	c.ID, c.Version = id, 1
	if c.CreatedAt.IsZero() {
		c.CreatedAt = time.Now().UTC()
	}
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = c.CreatedAt
	}
	code, err := s.write(ctx, nil, &c, false)
	if err != nil {
		return err
	}
	if code != 1 {
		return hotline.Internal(fmt.Errorf("project %s already exists: the sequence key was reset", id))
	}
	*p = c
	return nil
}

// read returns the stored project and its content hash.
func (s *ProjectStore) read(ctx context.Context, id string) (*hotline.Project, string, error) {
	if id == "" {
		return nil, "", projectNotFound(id)
	}
	vals, err := s.db.client.HMGet(ctx, s.pkey(id), "d", "h").Result()
	if err != nil {
		return nil, "", storeErr(err)
	}
	d, _ := vals[0].(string)
	h, _ := vals[1].(string)
	if d == "" {
		return nil, "", projectNotFound(id)
	}
	p, err := decodeProject(d)
	return p, h, err
}

func decodeProject(d string) (*hotline.Project, error) {
	var p hotline.Project
	if err := json.Unmarshal([]byte(d), &p); err != nil {
		return nil, hotline.Internal(fmt.Errorf("decode stored project: %w", err))
	}
	return &p, nil
}

// FindProject implements hotline.ProjectStore.
func (s *ProjectStore) FindProject(ctx context.Context, id string) (*hotline.Project, error) {
	p, _, err := s.read(ctx, id)
	return p, err
}

// FindProjects implements hotline.ProjectStore: newest first (created),
// ties by id, later first. It reads the smaller of the status and year
// indexes that apply and filters the rest in Go; projects are few.
func (s *ProjectStore) FindProjects(ctx context.Context, f hotline.ProjectFilter) ([]*hotline.Project, error) {
	var keys []string
	switch {
	case len(f.Statuses) > 0:
		for _, st := range f.Statuses {
			keys = append(keys, s.key("st", string(st)))
		}
	case f.Year != 0:
		keys = []string{s.key("yr", strconv.Itoa(f.Year))}
	default:
		keys = []string{s.key("all")}
	}
	pipe := s.db.client.Pipeline()
	ranges := make([]*redis.StringSliceCmd, len(keys))
	for i, k := range keys {
		ranges[i] = pipe.ZRange(ctx, k, 0, -1)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, storeErr(err)
	}
	var ids []string
	for _, r := range ranges {
		ids = append(ids, r.Val()...)
	}
	ps, err := s.load(ctx, dedupe(ids))
	if err != nil {
		return nil, err
	}
	out := ps[:0]
	for _, p := range ps {
		if (len(f.Statuses) == 0 || slices.Contains(f.Statuses, p.Status)) && (f.Year == 0 || p.Year == f.Year) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *hotline.Project) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(len(b.ID), len(a.ID)), cmp.Compare(b.ID, a.ID))
	})
	return out, nil
}

// load reads projects by id in one pipeline, leaving out ids not found.
func (s *ProjectStore) load(ctx context.Context, ids []string) ([]*hotline.Project, error) {
	if len(ids) == 0 {
		return []*hotline.Project{}, nil
	}
	pipe := s.db.client.Pipeline()
	cmds := make([]*redis.StringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGet(ctx, s.pkey(id), "d")
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, storeErr(err)
	}
	out := make([]*hotline.Project, 0, len(ids))
	for _, c := range cmds {
		d, err := c.Result()
		if errors.Is(err, redis.Nil) {
			continue
		} else if err != nil {
			return nil, storeErr(err)
		}
		p, err := decodeProject(d)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// projectBackoff waits before optimistic attempt n (n ≥ 1): jitter spreads the
// losers of a race, its ceiling doubling from 1 ms to 32 ms, as
// UpdateTicket does.
func projectBackoff(ctx context.Context, attempt int) error {
	d := time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt-1, 5)))
	select {
	case <-ctx.Done():
		return hotline.Unavailable(ctx.Err())
	case <-time.After(d):
		return nil
	}
}

// UpdateProject implements hotline.ProjectStore with optimistic locking:
// read, apply change to a copy, store only if the version is still the one
// read, else read again and re-apply. change may run more than once. The
// store keeps ID and CreatedAt and sets Version and UpdatedAt.
func (s *ProjectStore) UpdateProject(ctx context.Context, id string, change hotline.ProjectChange) (*hotline.Project, error) {
	for attempt := range projectAttempts {
		if attempt > 0 {
			if err := projectBackoff(ctx, attempt); err != nil {
				return nil, err
			}
		}
		cur, err := s.FindProject(ctx, id)
		if err != nil {
			return nil, err
		}
		next, err := cloneProject(cur)
		if err != nil {
			return nil, err
		}
		if err := change(next); err != nil {
			return nil, err
		}
		next.ID, next.CreatedAt = cur.ID, cur.CreatedAt
		next.Version = cur.Version + 1
		next.UpdatedAt = time.Now().UTC()
		if err := checkProject(next); err != nil {
			return nil, err
		}
		code, err := s.write(ctx, cur, next, false)
		if err != nil {
			return nil, err
		}
		switch code {
		case 1:
			return next, nil
		case -1:
			return nil, projectNotFound(id)
		}
	}
	return nil, hotline.Errorf(hotline.ECONFLICT, "project %s is being changed by several people at once; please reload it and try again", id)
}

// cloneProject deep-copies p so that a change cannot reach into the slices
// of the copy read (which a retry would then see altered).
func cloneProject(p *hotline.Project) (*hotline.Project, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, hotline.Internal(err)
	}
	return decodeProject(string(b))
}

// SaveDraft implements hotline.ProjectStore. A draft with an ID is written
// over the stored project only while that is a draft or retired (the
// script checks the status and the version read in one step); it keeps the
// stored CreatedAt, and a draft whose content is what is stored already is
// not written at all (no new version). A draft whose ID is unknown is not
// written.
func (s *ProjectStore) SaveDraft(ctx context.Context, p *hotline.Project) (bool, error) {
	if p == nil {
		return false, hotline.Errorf(hotline.EINVALID, "no draft given")
	}
	if p.ID == "" {
		c := *p
		c.Status = hotline.ProjectDraft
		c.CreatedAt, c.UpdatedAt = time.Time{}, time.Time{}
		if err := s.CreateProject(ctx, &c); err != nil {
			return false, err
		}
		*p = c
		return true, nil
	}
	for attempt := range projectAttempts {
		if attempt > 0 {
			if err := projectBackoff(ctx, attempt); err != nil {
				return false, err
			}
		}
		cur, h, err := s.read(ctx, p.ID)
		if hotline.ErrorCode(err) == hotline.ENOTFOUND {
			return false, nil
		} else if err != nil {
			return false, err
		}
		if cur.Status != hotline.ProjectDraft && cur.Status != hotline.ProjectRetired {
			return false, nil
		}
		next := *p
		next.Status = hotline.ProjectDraft
		next.CreatedAt = cur.CreatedAt
		next.UpdatedBy = ""
		nh, err := contentHash(&next)
		if err != nil {
			return false, err
		}
		if cur.Status == hotline.ProjectDraft && nh == h {
			*p = *cur
			return true, nil
		}
		next.Version = cur.Version + 1
		next.UpdatedAt = time.Now().UTC()
		code, err := s.write(ctx, cur, &next, true)
		if err != nil {
			return false, err
		}
		switch code {
		case 1:
			*p = next
			return true, nil
		case -1, -3:
			return false, nil
		}
	}
	return false, hotline.Errorf(hotline.ECONFLICT, "draft %s is being changed by several people at once", p.ID)
}

// saveRunScript numbers a run when it has no id, adds it to the front of
// the list and trims the list, in one step.
//
// KEYS: 1 runs list, 2 run sequence. ARGV: 1 run JSON before the id,
// 2 after it (marshalAround; the id goes in between), 3 runs kept, 4 the id
// when given. Returns the id.
var saveRunScript = redis.NewScript(`
local id = ARGV[4]
if id == '' then
  id = string.format('G%06d', redis.call('INCR', KEYS[2]))
end
redis.call('LPUSH', KEYS[1], ARGV[1] .. id .. ARGV[2])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[3]) - 1)
return id
`)

// SaveRun implements hotline.ProjectStore. A run without an ID gets one:
// "G" and six digits.
func (s *ProjectStore) SaveRun(ctx context.Context, r *hotline.GroupingRun) error {
	if r == nil {
		return hotline.Errorf(hotline.EINVALID, "no run given")
	}
	c := *r
	given := c.ID
	c.ID = ""
	head, tail, err := marshalAround(&c, "id")
	if err != nil {
		return err
	}
	if strings.ContainsAny(given, `"\`) {
		return hotline.Errorf(hotline.EINVALID, "a run id must not hold quotes or backslashes")
	}
	id, err := saveRunScript.Run(ctx, s.db.client, []string{s.key("runs"), s.key("runseq")},
		head, tail, runsKept, given).Text()
	if err != nil {
		return storeErr(err)
	}
	r.ID = id
	return nil
}

// LastRun implements hotline.ProjectStore.
func (s *ProjectStore) LastRun(ctx context.Context) (*hotline.GroupingRun, error) {
	runs, err := s.Runs(ctx, 1)
	if err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, hotline.Errorf(hotline.ENOTFOUND, "the grouping job has not run yet")
	}
	return runs[0], nil
}

// Runs returns up to n of the last runs, newest first (n ≤ 0: all kept).
// Errors: EUNAVAILABLE.
func (s *ProjectStore) Runs(ctx context.Context, n int) ([]*hotline.GroupingRun, error) {
	stop := int64(n) - 1
	if n <= 0 {
		stop = -1
	}
	raw, err := s.db.client.LRange(ctx, s.key("runs"), 0, stop).Result()
	if err != nil {
		return nil, storeErr(err)
	}
	out := make([]*hotline.GroupingRun, 0, len(raw))
	for _, d := range raw {
		var r hotline.GroupingRun
		if err := json.Unmarshal([]byte(d), &r); err != nil {
			return nil, hotline.Internal(fmt.Errorf("decode stored grouping run: %w", err))
		}
		out = append(out, &r)
	}
	return out, nil
}
