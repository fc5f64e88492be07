package redisstore

import (
	"cmp"
	"context"
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

// VolunteerStore keeps the volunteer registry. Every key lives under the
// {vol} hash tag, so one script writes a volunteer, the claim on their
// phone and every index they are in, also on a Cluster:
//
//	P:{vol}:seq              string, the last volunteer number handed out
//	P:{vol}:v:<id>           hash: v (version), d (the volunteer's JSON),
//	                         m (the fields matching reads: matchRecord)
//	P:{vol}:phone:<hash>     string, the id holding a phone (hash: nameHash)
//	P:{vol}:all              zset of ids by created ms (newest-first listing)
//	P:{vol}:st:<status>      zset, ids by created ms, per status
//	P:{vol}:c:<committee>    zset, per home committee
//	P:{vol}:g:<group>        zset, per group
//	P:{vol}:sk:<skill>       zset, per skill
//	P:{vol}:geo:<skill>      GEO set of the matchable volunteers with the
//	                         skill (or hotline.QualificationSkill, or
//	                         hotline.LanguageSkill of either), at their
//	                         point
//	P:{vol}:index            string, the version of the indexes
//	                         (volunteerIndexVersion; see EnsureIndexes)
//
// The registry of a street is a few thousand people; a city's, a few
// hundred thousand: one slot holds that easily (about 1 KB each).
type VolunteerStore struct {
	db *DB
}

var _ hotline.VolunteerStore = (*VolunteerStore)(nil)

// NewVolunteerStore returns the volunteer store on db.
func NewVolunteerStore(db *DB) *VolunteerStore { return &VolunteerStore{db: db} }

func (s *VolunteerStore) key(parts ...string) string {
	return join(s.db.prefix+":{vol}", parts)
}

func (s *VolunteerStore) vkey(id string) string      { return s.key("v", id) }
func (s *VolunteerStore) phoneKey(ph string) string  { return s.key("phone", nameHash(ph)) }
func (s *VolunteerStore) geoKey(skill string) string { return s.key("geo", skill) }

// volunteerWriteScript stores one volunteer: checks the version it was read
// at (or that it is new) and that no one else holds its phone, then writes
// it, moves the phone claim, and leaves and joins index zsets and GEO sets.
// The caller works out the index changes from the old and new volunteer.
//
// KEYS: 1 the volunteer hash, 2 the claim of its phone, 3 the claim of its
// previous phone (= KEYS[2] when unchanged), then nrem zsets (or GEO sets)
// to leave, nadd zsets to join, ngeo GEO sets to join.
// ARGV: 1 version read ("0": must not exist), 2 new version, 3 JSON, 4 id,
// 5 created ms (index score), 6 nrem, 7 nadd, 8 ngeo, 9 long, 10 lat,
// 11 the match record (matchRecord).
//
// Returns {1} when stored, {0} when it exists (create) or its version moved
// on, {-1} when it is gone, {-2, holder} when the phone is someone else's.
var volunteerWriteScript = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], 'v')
if ARGV[1] == '0' then
  if v then return {0} end
else
  if not v then return {-1} end
  if v ~= ARGV[1] then return {0} end
end
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[4] then
  return {-2, holder}
end
if KEYS[3] ~= KEYS[2] and redis.call('GET', KEYS[3]) == ARGV[4] then
  redis.call('DEL', KEYS[3])
end
redis.call('SET', KEYS[2], ARGV[4])
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'd', ARGV[3], 'm', ARGV[11])
local nrem, nadd, ngeo = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local i = 4
for _ = 1, nrem do
  redis.call('ZREM', KEYS[i], ARGV[4])
  i = i + 1
end
for _ = 1, nadd do
  redis.call('ZADD', KEYS[i], ARGV[5], ARGV[4])
  i = i + 1
end
for _ = 1, ngeo do
  redis.call('GEOADD', KEYS[i], ARGV[9], ARGV[10], ARGV[4])
  i = i + 1
end
return {1}
`)

// volunteerNearbyScript answers a GEO search with the JSON of the
// volunteers found, in one round trip. The volunteer hashes are named from
// ARGV[1], the "<prefix>:{vol}:v:" of KEYS[1], so they share its slot.
//
// KEYS: 1 the GEO set. ARGV: 1 hash key prefix, 2 long, 3 lat, 4 radius m,
// 5 count (0: all). Returns {id, dist, JSON, …}; a member whose hash is
// gone (never, unless edited by hand) is left out.
var volunteerNearbyScript = redis.NewScript(`
local res
if tonumber(ARGV[5]) > 0 then
  res = redis.call('GEOSEARCH', KEYS[1], 'FROMLONLAT', ARGV[2], ARGV[3], 'BYRADIUS', ARGV[4], 'm', 'ASC', 'COUNT', ARGV[5], 'WITHDIST')
else
  res = redis.call('GEOSEARCH', KEYS[1], 'FROMLONLAT', ARGV[2], ARGV[3], 'BYRADIUS', ARGV[4], 'm', 'ASC', 'WITHDIST')
end
local out = {}
for _, r in ipairs(res) do
  local d = redis.call('HGET', ARGV[1] .. r[1], 'd')
  if d then
    out[#out + 1] = r[1]
    out[#out + 1] = r[2]
    out[#out + 1] = d
  end
end
return out
`)

// volunteerNearbyAnyScript is volunteerNearbyScript over several GEO
// sets at once (a skill and the qualifications that serve it): one round
// trip, and of each volunteer found only the match record (the JSON when
// a volunteer was stored before records existed), once.
//
// KEYS: the GEO sets. ARGV: as volunteerNearbyScript. Returns, per set,
// {id, dist, …}, then last {id, record, …} of every id found.
var volunteerNearbyAnyScript = redis.NewScript(`
local docs, seen, out = {}, {}, {}
for k = 1, #KEYS do
  local res
  if tonumber(ARGV[5]) > 0 then
    res = redis.call('GEOSEARCH', KEYS[k], 'FROMLONLAT', ARGV[2], ARGV[3], 'BYRADIUS', ARGV[4], 'm', 'ASC', 'COUNT', ARGV[5], 'WITHDIST')
  else
    res = redis.call('GEOSEARCH', KEYS[k], 'FROMLONLAT', ARGV[2], ARGV[3], 'BYRADIUS', ARGV[4], 'm', 'ASC', 'WITHDIST')
  end
  local flat = {}
  for _, r in ipairs(res) do
    if not seen[r[1]] then
      seen[r[1]] = true
      local m = redis.call('HGET', ARGV[1] .. r[1], 'm') or redis.call('HGET', ARGV[1] .. r[1], 'd')
      if m then
        docs[#docs + 1] = r[1]
        docs[#docs + 1] = m
      end
    end
    flat[#flat + 1] = r[1]
    flat[#flat + 1] = r[2]
  end
  out[k] = flat
end
out[#KEYS + 1] = docs
return out
`)

// NearbyVolunteersAny is NearbyVolunteers over several skills in one
// round trip: found[i] are the volunteers of skills[i], nearest first.
// A volunteer in several sets is the same *Volunteer in each. The
// volunteers hold only what matching reads (ID, Status, Skills,
// Qualifications, Languages, Availability, MaxTasks): decoding whole
// records cost matching more CPU than everything else together;
// VolunteersByID reads the chosen ones in full.
// Errors: EINVALID, EUNAVAILABLE.
func (s *VolunteerStore) NearbyVolunteersAny(ctx context.Context, skills []string, lat, long, radius float64, count int) ([][]hotline.VolunteerDistance, error) {
	if radius < 0 {
		return nil, hotline.Errorf(hotline.EINVALID, "radius must not be negative")
	}
	if len(skills) == 0 || slices.Contains(skills, "") {
		return nil, hotline.Errorf(hotline.EINVALID, "a skill is required")
	}
	keys := make([]string, len(skills))
	for i, k := range skills {
		keys[i] = s.geoKey(k)
	}
	raw, err := volunteerNearbyAnyScript.Run(ctx, s.db.client, keys, s.vkey(""),
		strconv.FormatFloat(long, 'f', -1, 64), strconv.FormatFloat(lat, 'f', -1, 64),
		strconv.FormatFloat(radius, 'f', -1, 64), max(count, 0)).Slice()
	if err != nil {
		return nil, storeErr(err)
	}
	if len(raw) != len(skills)+1 {
		return nil, hotline.Internal(fmt.Errorf("nearby volunteers answered %d lists for %d sets", len(raw), len(skills)))
	}
	docs, _ := raw[len(skills)].([]any)
	byID := make(map[string]*hotline.Volunteer, len(docs)/2)
	for i := 0; i+1 < len(docs); i += 2 {
		id, _ := docs[i].(string)
		d, _ := docs[i+1].(string)
		var v *hotline.Volunteer
		var err error
		if strings.HasPrefix(d, "{") {
			v, err = decodeVolunteer(d)
		} else {
			v, err = parseMatchRecord(id, d)
		}
		if err != nil {
			return nil, err
		}
		byID[id] = v
	}
	out := make([][]hotline.VolunteerDistance, len(skills))
	for k := range skills {
		flat, _ := raw[k].([]any)
		list := make([]hotline.VolunteerDistance, 0, len(flat)/2)
		for i := 0; i+1 < len(flat); i += 2 {
			id, _ := flat[i].(string)
			v, ok := byID[id]
			if !ok {
				continue
			}
			ds, _ := flat[i+1].(string)
			dist, err := strconv.ParseFloat(ds, 64)
			if err != nil {
				return nil, hotline.Internal(fmt.Errorf("nearby volunteers distance %q: %w", ds, err))
			}
			list = append(list, hotline.VolunteerDistance{Volunteer: v, Distance: dist})
		}
		out[k] = list
	}
	return out, nil
}

// matchRecord is the part of a volunteer matching reads, in a form
// parsed without reflection: fields separated by "|" (no code, and no
// availability, holds one), lists by ",":
//
//	status|skills|kind:expires-unix-ms (0: none),…|languages|max tasks|availability
func matchRecord(v *hotline.Volunteer) string {
	var b strings.Builder
	b.WriteString(string(v.Status))
	b.WriteByte('|')
	b.WriteString(strings.Join(v.Skills, ","))
	b.WriteByte('|')
	for i, q := range v.Qualifications {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(q.Kind)
		b.WriteByte(':')
		if q.Expires.IsZero() {
			b.WriteByte('0')
		} else {
			b.WriteString(strconv.FormatInt(q.Expires.UnixMilli(), 10))
		}
	}
	b.WriteByte('|')
	b.WriteString(strings.Join(v.Languages, ","))
	b.WriteByte('|')
	b.WriteString(strconv.Itoa(v.MaxTasks))
	b.WriteByte('|')
	b.WriteString(v.Availability)
	return b.String()
}

func parseMatchRecord(id, m string) (*hotline.Volunteer, error) {
	f := strings.SplitN(m, "|", 6)
	if len(f) != 6 {
		return nil, hotline.Internal(fmt.Errorf("match record of %s: %d fields", id, len(f)))
	}
	list := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(s, ",")
	}
	v := &hotline.Volunteer{ID: id, Status: hotline.VolunteerStatus(f[0]), Skills: list(f[1]),
		Languages: list(f[3]), Availability: f[5]}
	for _, q := range list(f[2]) {
		kind, ms, _ := strings.Cut(q, ":")
		n, err := strconv.ParseInt(ms, 10, 64)
		if err != nil {
			return nil, hotline.Internal(fmt.Errorf("match record of %s: qualification %q", id, q))
		}
		qual := hotline.Qualification{Kind: kind}
		if n != 0 {
			qual.Expires = time.UnixMilli(n).UTC()
		}
		v.Qualifications = append(v.Qualifications, qual)
	}
	var err error
	if v.MaxTasks, err = strconv.Atoi(f[4]); err != nil {
		return nil, hotline.Internal(fmt.Errorf("match record of %s: max tasks %q", id, f[4]))
	}
	return v, nil
}

// VolunteersByID reads volunteers in full, in the order of ids; ids not
// found are left out. One pipeline. Errors: EUNAVAILABLE.
func (s *VolunteerStore) VolunteersByID(ctx context.Context, ids []string) ([]*hotline.Volunteer, error) {
	return s.load(ctx, ids)
}

// volunteerIndexes returns the zsets v belongs to, and the GEO sets (empty
// unless v is matchable and has a point).
func (s *VolunteerStore) volunteerIndexes(v *hotline.Volunteer) (zsets, geos []string) {
	if v == nil {
		return nil, nil
	}
	zsets = append(zsets, s.key("all"), s.key("st", string(v.Status)))
	if v.Committee != "" {
		zsets = append(zsets, s.key("c", v.Committee))
	}
	for _, g := range v.Groups {
		zsets = append(zsets, s.key("g", g))
	}
	for _, k := range v.Skills {
		zsets = append(zsets, s.key("sk", k))
	}
	return dedupe(zsets), s.geoIndexes(v)
}

// geoIndexes returns the GEO sets v belongs to: none unless v is
// matchable and has a point; else one per skill and qualification, and
// one per skill or qualification and language other than
// hotline.CommonLanguage.
func (s *VolunteerStore) geoIndexes(v *hotline.Volunteer) []string {
	if v == nil || !v.Status.Matchable() || (v.Lat == 0 && v.Long == 0) {
		return nil
	}
	sets := slices.Clone(v.Skills)
	for _, q := range v.Qualifications {
		sets = append(sets, hotline.QualificationSkill(q.Kind))
	}
	var geos []string
	for _, set := range sets {
		geos = append(geos, s.geoKey(set))
		for _, l := range v.Languages {
			if l != hotline.CommonLanguage && l != "" {
				geos = append(geos, s.geoKey(hotline.LanguageSkill(set, l)))
			}
		}
	}
	return dedupe(geos)
}

func dedupe(xs []string) []string {
	slices.Sort(xs)
	return slices.Compact(xs)
}

// writeCall is one volunteerWriteScript call, ready to run.
type writeCall struct {
	keys []string
	args []any
}

// prepareWrite builds the script call storing next over prev (nil: create).
func (s *VolunteerStore) prepareWrite(prev, next *hotline.Volunteer) (writeCall, error) {
	b, err := json.Marshal(next)
	if err != nil {
		return writeCall{}, hotline.Internal(err)
	}
	oldZ, oldG := s.volunteerIndexes(prev)
	newZ, newG := s.volunteerIndexes(next)
	var rem, add []string
	for _, k := range oldZ {
		if !slices.Contains(newZ, k) {
			rem = append(rem, k)
		}
	}
	for _, k := range oldG {
		if !slices.Contains(newG, k) {
			rem = append(rem, k)
		}
	}
	for _, k := range newZ {
		if !slices.Contains(oldZ, k) {
			add = append(add, k)
		}
	}
	// Every GEO set is written again: the point may have moved, and
	// GEOADD of an unchanged point changes nothing.
	phoneKey := s.phoneKey(next.Phone)
	prevPhone := phoneKey
	read := "0"
	if prev != nil {
		prevPhone = s.phoneKey(prev.Phone)
		read = strconv.FormatInt(prev.Version, 10)
	}
	keys := make([]string, 0, 3+len(rem)+len(add)+len(newG))
	keys = append(keys, s.vkey(next.ID), phoneKey, prevPhone)
	keys = append(keys, rem...)
	keys = append(keys, add...)
	keys = append(keys, newG...)
	args := []any{read, next.Version, b, next.ID, next.CreatedAt.UnixMilli(),
		len(rem), len(add), len(newG),
		strconv.FormatFloat(next.Long, 'f', -1, 64), strconv.FormatFloat(next.Lat, 'f', -1, 64),
		matchRecord(next)}
	return writeCall{keys: keys, args: args}, nil
}

// writeResult reads the script's answer.
func writeResult(v *hotline.Volunteer, create bool, raw []any) error {
	if len(raw) == 0 {
		return hotline.Internal(fmt.Errorf("volunteer write answered nothing"))
	}
	code, _ := raw[0].(int64)
	switch code {
	case 1:
		return nil
	case 0:
		if create {
			return hotline.Internal(fmt.Errorf("volunteer %s already exists: the sequence key was reset", v.ID))
		}
		return hotline.Errorf(hotline.ECONFLICT, "volunteer %s was changed by someone else meanwhile; reload and try again", v.ID)
	case -1:
		return volunteerNotFound(v.ID)
	case -2:
		holder, _ := raw[1].(string)
		return hotline.Errorf(hotline.ECONFLICT, "the phone %s is already registered (volunteer %s); edit that volunteer instead", hotline.MaskPhone(v.Phone), holder)
	}
	return hotline.Internal(fmt.Errorf("volunteer write answered %v", raw))
}

func volunteerNotFound(id string) error {
	return hotline.Errorf(hotline.ENOTFOUND, "no volunteer %s", id)
}

// checkVolunteer refuses what a store cannot keep consistently.
func checkVolunteer(v *hotline.Volunteer) error {
	fe := hotline.FieldErrors{}
	if strings.TrimSpace(v.Name) == "" {
		fe.Add("name", "a name is required")
	}
	if !strings.HasPrefix(v.Phone, "+") {
		fe.Add("phone", "a phone number in E.164 form (+86…) is required")
	}
	if v.Status == "" {
		fe.Add("status", "a status is required")
	}
	return fe.Err()
}

// newIDs hands out n volunteer ids: "V" and a number from 10001 up.
func (s *VolunteerStore) newIDs(ctx context.Context, n int) ([]string, error) {
	last, err := s.db.client.IncrBy(ctx, s.key("seq"), int64(n)).Result()
	if err != nil {
		return nil, storeErr(err)
	}
	ids := make([]string, n)
	for i := range n {
		ids[i] = "V" + strconv.FormatInt(10000+last-int64(n)+int64(i)+1, 10)
	}
	return ids, nil
}

// stamp sets what a store sets on create.
func stampNew(v *hotline.Volunteer, id string, now time.Time) {
	v.ID, v.Version = id, 1
	if v.CreatedAt.IsZero() {
		v.CreatedAt = now
	}
	if v.UpdatedAt.IsZero() {
		v.UpdatedAt = v.CreatedAt
	}
}

// CreateVolunteer implements hotline.VolunteerStore. It sets v.ID,
// v.Version and, when zero, v.CreatedAt and v.UpdatedAt.
func (s *VolunteerStore) CreateVolunteer(ctx context.Context, v *hotline.Volunteer) error {
	if v == nil {
		return hotline.Errorf(hotline.EINVALID, "no volunteer given")
	}
	if err := checkVolunteer(v); err != nil {
		return err
	}
	ids, err := s.newIDs(ctx, 1)
	if err != nil {
		return err
	}
	c := *v
	stampNew(&c, ids[0], time.Now().UTC())
	call, err := s.prepareWrite(nil, &c)
	if err != nil {
		return err
	}
	raw, err := volunteerWriteScript.Run(ctx, s.db.client, call.keys, call.args...).Slice()
	if err != nil {
		return storeErr(err)
	}
	if err := writeResult(&c, true, raw); err != nil {
		return err
	}
	*v = c
	return nil
}

func decodeVolunteer(d string) (*hotline.Volunteer, error) {
	var v hotline.Volunteer
	if err := json.Unmarshal([]byte(d), &v); err != nil {
		return nil, hotline.Internal(fmt.Errorf("stored volunteer: %w", err))
	}
	return &v, nil
}

// FindVolunteer implements hotline.VolunteerStore.
func (s *VolunteerStore) FindVolunteer(ctx context.Context, id string) (*hotline.Volunteer, error) {
	if id == "" || strings.ContainsAny(id, "{}") {
		return nil, volunteerNotFound(id)
	}
	d, err := s.db.client.HGet(ctx, s.vkey(id), "d").Result()
	if errors.Is(err, redis.Nil) {
		return nil, volunteerNotFound(id)
	} else if err != nil {
		return nil, storeErr(err)
	}
	return decodeVolunteer(d)
}

// FindVolunteerByPhone implements hotline.VolunteerStore.
func (s *VolunteerStore) FindVolunteerByPhone(ctx context.Context, phone string) (*hotline.Volunteer, error) {
	m, err := s.VolunteersByPhone(ctx, []string{phone})
	if err != nil {
		return nil, err
	}
	if v, ok := m[phone]; ok {
		return v, nil
	}
	return nil, hotline.Errorf(hotline.ENOTFOUND, "no volunteer with the phone %s", hotline.MaskPhone(phone))
}

// phoneLookupScript turns phone claims into the volunteers' JSON.
// KEYS: the claims. ARGV: 1 hash key prefix. Returns one JSON (or false)
// per claim.
var phoneLookupScript = redis.NewScript(`
local out = {}
for i, k in ipairs(KEYS) do
  local id = redis.call('GET', k)
  local d = false
  if id then d = redis.call('HGET', ARGV[1] .. id, 'd') or false end
  out[i] = d
end
return out
`)

// VolunteersByPhone implements hotline.VolunteerStore: one script for the
// whole batch.
func (s *VolunteerStore) VolunteersByPhone(ctx context.Context, phones []string) (map[string]*hotline.Volunteer, error) {
	out := make(map[string]*hotline.Volunteer, len(phones))
	if len(phones) == 0 {
		return out, nil
	}
	keys := make([]string, len(phones))
	for i, p := range phones {
		keys[i] = s.phoneKey(p)
	}
	raw, err := phoneLookupScript.Run(ctx, s.db.client, keys, s.vkey("")).Slice()
	if err != nil {
		return nil, storeErr(err)
	}
	for i, r := range raw {
		d, ok := r.(string)
		if !ok || i >= len(phones) {
			continue
		}
		v, err := decodeVolunteer(d)
		if err != nil {
			return nil, err
		}
		// A claim left behind by a phone change would point at a
		// volunteer with another phone: not theirs.
		if v.Phone == phones[i] {
			out[phones[i]] = v
		}
	}
	return out, nil
}

// volunteerUpdateAttempts bounds UpdateVolunteer's optimistic retries.
const volunteerUpdateAttempts = 10

// UpdateVolunteer implements hotline.VolunteerStore. The ID and
// CreatedAt cannot change; Version is the store's. UpdatedAt is set to
// now unless the change set it.
func (s *VolunteerStore) UpdateVolunteer(ctx context.Context, id string, change hotline.VolunteerChange) (*hotline.Volunteer, error) {
	for attempt := 0; attempt < volunteerUpdateAttempts; attempt++ {
		cur, err := s.FindVolunteer(ctx, id)
		if err != nil {
			return nil, err
		}
		next := *cur
		next.Skills = slices.Clone(cur.Skills)
		next.Qualifications = slices.Clone(cur.Qualifications)
		next.Languages = slices.Clone(cur.Languages)
		next.Groups = slices.Clone(cur.Groups)
		if err := change(&next); err != nil {
			return nil, err
		}
		next.ID, next.CreatedAt, next.Version = cur.ID, cur.CreatedAt, cur.Version+1
		if next.UpdatedAt.Equal(cur.UpdatedAt) {
			next.UpdatedAt = time.Now().UTC()
		}
		if err := checkVolunteer(&next); err != nil {
			return nil, err
		}
		call, err := s.prepareWrite(cur, &next)
		if err != nil {
			return nil, err
		}
		raw, err := volunteerWriteScript.Run(ctx, s.db.client, call.keys, call.args...).Slice()
		if err != nil {
			return nil, storeErr(err)
		}
		err = writeResult(&next, false, raw)
		if hotline.ErrorCode(err) == hotline.ECONFLICT && raw[0].(int64) == 0 {
			time.Sleep(time.Duration(rand.IntN(1+attempt*5)) * time.Millisecond)
			continue
		}
		if err != nil {
			return nil, err
		}
		return &next, nil
	}
	return nil, hotline.Errorf(hotline.ECONFLICT, "volunteer %s is being changed by several people at once; try again", id)
}

// PutVolunteers implements hotline.VolunteerStore: the stored versions of
// the updates are read in one round trip, then every write is one script
// call, all pipelined.
func (s *VolunteerStore) PutVolunteers(ctx context.Context, vs []*hotline.Volunteer) ([]error, error) {
	errs := make([]error, len(vs))
	if len(vs) == 0 {
		return errs, nil
	}
	var creates int
	read := s.db.client.Pipeline()
	prevCmds := make([]*redis.StringCmd, len(vs))
	for i, v := range vs {
		if v == nil {
			errs[i] = hotline.Errorf(hotline.EINVALID, "no volunteer given")
			continue
		}
		if errs[i] = checkVolunteer(v); errs[i] != nil {
			continue
		}
		if v.ID == "" {
			creates++
			continue
		}
		prevCmds[i] = read.HGet(ctx, s.vkey(v.ID), "d")
	}
	if read.Len() > 0 {
		if _, err := read.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, storeErr(err)
		}
	}
	var ids []string
	if creates > 0 {
		var err error
		if ids, err = s.newIDs(ctx, creates); err != nil {
			return nil, err
		}
	}
	now := time.Now().UTC()
	next := make([]*hotline.Volunteer, len(vs))
	prepared := make([]*writeCall, len(vs))
	for i, v := range vs {
		if errs[i] != nil {
			continue
		}
		c := *v
		var prev *hotline.Volunteer
		if v.ID == "" {
			stampNew(&c, ids[0], now)
			ids = ids[1:]
		} else {
			d, err := prevCmds[i].Result()
			if errors.Is(err, redis.Nil) {
				errs[i] = volunteerNotFound(v.ID)
				continue
			} else if err != nil {
				return nil, storeErr(err)
			}
			if prev, err = decodeVolunteer(d); err != nil {
				return nil, err
			}
			if prev.Version != v.Version {
				errs[i] = hotline.Errorf(hotline.ECONFLICT, "volunteer %s was changed by someone else meanwhile; import again", v.ID)
				continue
			}
			c.CreatedAt, c.Version = prev.CreatedAt, prev.Version+1
			if c.UpdatedAt.Equal(prev.UpdatedAt) {
				c.UpdatedAt = now
			}
		}
		call, err := s.prepareWrite(prev, &c)
		if err != nil {
			return nil, err
		}
		next[i], prepared[i] = &c, &call
	}
	calls, err := s.runWrites(ctx, prepared)
	if err != nil {
		return nil, err
	}
	for i, c := range calls {
		if c == nil {
			continue
		}
		raw, err := c.Slice()
		if err != nil {
			return nil, storeErr(err)
		}
		if errs[i] = writeResult(next[i], vs[i].ID == "", raw); errs[i] == nil {
			*vs[i] = *next[i]
		}
	}
	return errs, nil
}

// runWrites sends the prepared writes (nil ones skipped) in one pipeline
// of EVALSHA; when the server does not know the script yet (first use, or
// after a restart) it loads it and sends them again, which is safe: a
// NOSCRIPT call ran nothing.
func (s *VolunteerStore) runWrites(ctx context.Context, prepared []*writeCall) ([]*redis.Cmd, error) {
	for attempt := 0; ; attempt++ {
		calls := make([]*redis.Cmd, len(prepared))
		pipe := s.db.client.Pipeline()
		for i, w := range prepared {
			if w != nil {
				calls[i] = volunteerWriteScript.EvalSha(ctx, pipe, w.keys, w.args...)
			}
		}
		if pipe.Len() == 0 {
			return calls, nil
		}
		_, err := pipe.Exec(ctx)
		if err == nil {
			return calls, nil
		}
		noscript := false
		for _, c := range calls {
			if c != nil && redis.HasErrorPrefix(c.Err(), "NOSCRIPT") {
				noscript = true
			}
		}
		if !noscript || attempt > 0 {
			if e := firstScriptErr(calls); e != nil && !unavailable(err) {
				return nil, storeErr(e)
			}
			return nil, storeErr(err)
		}
		if err := volunteerWriteScript.Load(ctx, s.db.client).Err(); err != nil {
			return nil, storeErr(err)
		}
	}
}

// firstScriptErr returns the first error of the calls that is not
// NOSCRIPT: a script's own failure, which resending will not mend.
func firstScriptErr(calls []*redis.Cmd) error {
	for _, c := range calls {
		if c == nil {
			continue
		}
		if err := c.Err(); err != nil && !redis.HasErrorPrefix(err, "NOSCRIPT") {
			return err
		}
	}
	return nil
}

// FindVolunteers implements hotline.VolunteerStore. With one index to
// read (no filter, or one) it pages in Redis; with several it intersects
// them here, and a Query reads the volunteers of the intersection (the
// staff listing of a street's registry: thousands, not millions).
func (s *VolunteerStore) FindVolunteers(ctx context.Context, f hotline.VolunteerFilter) ([]*hotline.Volunteer, int, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = defaultLimit
	}
	limit = min(limit, maxLimit)
	offset := max(f.Offset, 0)

	// Each entry is a union of zsets; the answer is the intersection.
	var sets [][]string
	if len(f.Statuses) > 0 {
		var u []string
		for _, st := range f.Statuses {
			u = append(u, s.key("st", string(st)))
		}
		sets = append(sets, dedupe(u))
	}
	if f.Committee != "" {
		sets = append(sets, []string{s.key("c", f.Committee)})
	}
	if f.Group != "" {
		sets = append(sets, []string{s.key("g", f.Group)})
	}
	if f.Skill != "" {
		sets = append(sets, []string{s.key("sk", f.Skill)})
	}
	query := strings.TrimSpace(f.Query)
	if len(sets) == 0 {
		sets = [][]string{{s.key("all")}}
	}

	if len(sets) == 1 && len(sets[0]) == 1 && query == "" {
		pipe := s.db.client.Pipeline()
		total := pipe.ZCard(ctx, sets[0][0])
		ids := pipe.ZRevRange(ctx, sets[0][0], int64(offset), int64(offset+limit-1))
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, 0, storeErr(err)
		}
		vs, err := s.load(ctx, ids.Val())
		return vs, int(total.Val()), err
	}

	pipe := s.db.client.Pipeline()
	var cmds [][]*redis.ZSliceCmd
	for _, u := range sets {
		var cs []*redis.ZSliceCmd
		for _, k := range u {
			cs = append(cs, pipe.ZRangeWithScores(ctx, k, 0, -1))
		}
		cmds = append(cmds, cs)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, 0, storeErr(err)
	}
	var acc map[string]float64
	for _, cs := range cmds {
		m := map[string]float64{}
		for _, c := range cs {
			for _, z := range c.Val() {
				id := z.Member.(string)
				if acc == nil {
					m[id] = z.Score
				} else if sc, ok := acc[id]; ok {
					m[id] = sc
				}
			}
		}
		acc = m
	}
	type scored struct {
		id    string
		score float64
	}
	all := make([]scored, 0, len(acc))
	for id, sc := range acc {
		all = append(all, scored{id, sc})
	}
	slices.SortFunc(all, func(a, b scored) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return cmp.Compare(b.id, a.id)
	})
	if query == "" {
		total := len(all)
		page := all[min(offset, total):min(offset+limit, total)]
		ids := make([]string, len(page))
		for i, x := range page {
			ids[i] = x.id
		}
		vs, err := s.load(ctx, ids)
		return vs, total, err
	}
	ids := make([]string, len(all))
	for i, x := range all {
		ids[i] = x.id
	}
	vs, err := s.load(ctx, ids)
	if err != nil {
		return nil, 0, err
	}
	q := strings.ToLower(query)
	var hits []*hotline.Volunteer
	for _, v := range vs {
		if strings.Contains(strings.ToLower(v.Name), q) || (len(q) >= 4 && strings.HasSuffix(v.Phone, q)) {
			hits = append(hits, v)
		}
	}
	total := len(hits)
	return hits[min(offset, total):min(offset+limit, total)], total, nil
}

// loadChunk bounds the HGETs of one pipeline when loading many volunteers.
const loadChunk = 1000

// load reads volunteers by id, in order, skipping ids whose hash is gone.
func (s *VolunteerStore) load(ctx context.Context, ids []string) ([]*hotline.Volunteer, error) {
	out := make([]*hotline.Volunteer, 0, len(ids))
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), loadChunk)]
		ids = ids[len(chunk):]
		pipe := s.db.client.Pipeline()
		cmds := make([]*redis.StringCmd, len(chunk))
		for i, id := range chunk {
			cmds[i] = pipe.HGet(ctx, s.vkey(id), "d")
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
			v, err := decodeVolunteer(d)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
	}
	return out, nil
}

// NearbyVolunteers implements hotline.VolunteerStore: one script running
// GEOSEARCH … ASC COUNT and reading the JSON of what it found. count ≤ 0
// means all within the radius. Errors: EINVALID, EUNAVAILABLE.
func (s *VolunteerStore) NearbyVolunteers(ctx context.Context, skill string, lat, long, radius float64, count int) ([]hotline.VolunteerDistance, error) {
	if radius < 0 {
		return nil, hotline.Errorf(hotline.EINVALID, "radius must not be negative")
	}
	if skill == "" {
		return nil, hotline.Errorf(hotline.EINVALID, "a skill is required")
	}
	raw, err := volunteerNearbyScript.Run(ctx, s.db.client, []string{s.geoKey(skill)}, s.vkey(""),
		strconv.FormatFloat(long, 'f', -1, 64), strconv.FormatFloat(lat, 'f', -1, 64),
		strconv.FormatFloat(radius, 'f', -1, 64), max(count, 0)).Slice()
	if err != nil {
		return nil, storeErr(err)
	}
	out := make([]hotline.VolunteerDistance, 0, len(raw)/3)
	for i := 0; i+2 < len(raw); i += 3 {
		ds, _ := raw[i+1].(string)
		dist, err := strconv.ParseFloat(ds, 64)
		if err != nil {
			return nil, hotline.Internal(fmt.Errorf("nearby volunteers distance %q: %w", ds, err))
		}
		d, _ := raw[i+2].(string)
		v, err := decodeVolunteer(d)
		if err != nil {
			return nil, err
		}
		out = append(out, hotline.VolunteerDistance{Volunteer: v, Distance: dist})
	}
	return out, nil
}
