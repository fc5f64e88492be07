package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/redis/go-redis/v9"
)

// UnitIndex answers routing's questions about units from Redis: a GEO set
// per (category, tier) for "who is near", and the per-partition load
// hashes the ticket scripts maintain for "how busy".
//
// One set per category and tier, rather than one for all units, keeps every
// search small: GEOSEARCH visits every member inside the radius before
// COUNT applies (docs/redis-keys.md, DEPENDENCIES.md), so a set holding
// only the units that could take the ticket is the cheapest filter there is.
type UnitIndex struct {
	db *DB
}

var _ hotline.UnitIndex = (*UnitIndex)(nil)

// NewUnitIndex returns the unit index on db.
func NewUnitIndex(db *DB) *UnitIndex { return &UnitIndex{db: db} }

// ukey names a key under the {units} hash tag, so that every GEO set, its
// temporary twin and the list of live sets share one slot and one script
// can swap them.
func (x *UnitIndex) ukey(parts ...string) string {
	return x.db.key(append([]string{"{units}"}, parts...)...)
}

func (x *UnitIndex) geoKey(category string, tier hotline.Tier) string {
	return x.ukey("geo", category, "t"+strconv.Itoa(int(tier)))
}

// unitTier is the unit's tier, taken from its kind when the file left it
// out; 0 when neither says.
func unitTier(u hotline.Unit) hotline.Tier {
	if u.Tier != 0 {
		return u.Tier
	}
	return u.Kind.Tier()
}

// IndexUnits implements hotline.UnitIndex. The new sets are written under
// temporary names first (one GEOADD each, pipelined), then one script
// renames them over the live ones and deletes the sets of categories no
// unit handles any more, so searches see the old index or the new one,
// never a mix. Units without a point or a tier cannot be found by distance
// and are left out. Errors: EUNAVAILABLE.
func (x *UnitIndex) IndexUnits(ctx context.Context, n *hotline.Network) error {
	type set struct {
		live, tmp string
		members   []*redis.GeoLocation
	}
	// A random tag per call keeps two replicas indexing at the same time
	// from writing into each other's temporary sets.
	var r [8]byte
	if _, err := rand.Read(r[:]); err != nil {
		return hotline.Internal(err)
	}
	tag := hex.EncodeToString(r[:])
	sets := map[string]*set{}
	var order []string
	if n != nil {
		for _, u := range n.Units {
			tier := unitTier(u)
			if tier == 0 || (u.Lat == 0 && u.Long == 0) {
				continue
			}
			for _, c := range u.Categories {
				live := x.geoKey(c, tier)
				s := sets[live]
				if s == nil {
					s = &set{live: live, tmp: x.ukey("geotmp", tag, c, "t"+strconv.Itoa(int(tier)))}
					sets[live] = s
					order = append(order, live)
				}
				s.members = append(s.members, &redis.GeoLocation{Name: u.ID, Longitude: u.Long, Latitude: u.Lat})
			}
		}
	}
	slices.Sort(order)

	keys := []string{x.ukey("geokeys")}
	var lives []string
	if len(order) > 0 {
		pipe := x.db.client.Pipeline()
		for _, k := range order {
			s := sets[k]
			pipe.GeoAdd(ctx, s.tmp, s.members...)
			keys = append(keys, s.tmp)
			lives = append(lives, s.live)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			x.dropTemp(keys[1:])
			return storeErr(err)
		}
	}
	keys = append(keys, lives...)
	if err := swapGeoScript.Run(ctx, x.db.client, keys, len(lives)).Err(); err != nil {
		x.dropTemp(keys[1 : 1+len(lives)])
		return storeErr(err)
	}
	return nil
}

// dropTimeout bounds the clean-up after a failed IndexUnits.
const dropTimeout = 2 * time.Second

// dropTemp deletes temporary sets left by a failed IndexUnits, on a fresh
// context since the caller's may be what failed. Best effort: if Redis is
// down this fails too, and the sets are small and never read.
func (x *UnitIndex) dropTemp(keys []string) {
	if len(keys) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), dropTimeout)
	defer cancel()
	pipe := x.db.client.Pipeline()
	for _, k := range keys {
		pipe.Del(ctx, k)
	}
	_, _ = pipe.Exec(ctx)
}

// NearbyUnits implements hotline.UnitIndex with GEOSEARCH FROMLONLAT
// BYRADIUS … ASC on the set of the category and tier. count ≤ 0 means
// every unit within the radius. Distances come back in metres, rounded by
// Redis to 0.1 mm (miniredis: coordinates to 6 decimals, about 0.1 m).
// Errors: EINVALID for a negative radius, EUNAVAILABLE.
func (x *UnitIndex) NearbyUnits(ctx context.Context, category string, tier hotline.Tier, lat, long, radius float64, count int) ([]hotline.UnitDistance, error) {
	if radius < 0 {
		return nil, hotline.Errorf(hotline.EINVALID, "radius must not be negative")
	}
	q := &redis.GeoSearchLocationQuery{
		GeoSearchQuery: redis.GeoSearchQuery{
			Longitude: long, Latitude: lat,
			Radius: radius, RadiusUnit: "m",
			Sort: "ASC", Count: max(count, 0),
		},
		WithDist: true,
	}
	key := x.geoKey(category, tier)
	cmd, err := x.db.batch.do(ctx, func(p redis.Pipeliner) redis.Cmder {
		return p.GeoSearchLocation(ctx, key, q)
	})
	if err != nil {
		return nil, storeErr(err)
	}
	locs := cmd.(*redis.GeoSearchLocationCmd).Val()
	out := make([]hotline.UnitDistance, len(locs))
	for i, l := range locs {
		out[i] = hotline.UnitDistance{UnitID: l.Name, Distance: l.Dist}
	}
	return out, nil
}

// OpenLoads implements hotline.UnitIndex: HMGET of the ids on each
// partition's load hash, one pipeline, summed. Every id asked for is in
// the answer, 0 when it holds no open ticket. Errors: EUNAVAILABLE.
func (x *UnitIndex) OpenLoads(ctx context.Context, unitIDs []string) (map[string]int, error) {
	out := make(map[string]int, len(unitIDs))
	for _, id := range unitIDs {
		out[id] = 0
	}
	if len(unitIDs) == 0 {
		return out, nil
	}
	pipe := x.db.client.Pipeline()
	cmds := make([]*redis.SliceCmd, partitions)
	for p := range partitions {
		cmds[p] = pipe.HMGet(ctx, x.db.pkey(p, "load"), unitIDs...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, storeErr(err)
	}
	for _, c := range cmds {
		for i, v := range c.Val() {
			if v == nil {
				continue
			}
			s, _ := v.(string)
			k, err := strconv.Atoi(s)
			if err != nil {
				return nil, hotline.Internal(fmt.Errorf("load counter of a unit is %q: %w", s, err))
			}
			out[unitIDs[i]] += k
		}
	}
	return out, nil
}

// nearbyLoadsScript answers a GEO search and the open-ticket counts of what
// it found (plus the extra ids, such as the home committee) in one round
// trip: routing waits on Redis twice otherwise, and on a loaded machine
// each wait costs more than the work. It reads keys of every partition, so
// it runs only where one server holds them all (not on Cluster).
//
// KEYS: 1 the GEO set, 2..17 the partitions' load hashes.
// ARGV: 1 long, 2 lat, 3 radius m, 4 count (0: all), 5.. extra ids.
// Returns {{id, dist}…} then, last, {id, load, id, load…} for every unit.
var nearbyLoadsScript = redis.NewScript(`
local res
if tonumber(ARGV[4]) > 0 then
  res = redis.call('GEOSEARCH', KEYS[1], 'FROMLONLAT', ARGV[1], ARGV[2], 'BYRADIUS', ARGV[3], 'm', 'ASC', 'COUNT', ARGV[4], 'WITHDIST')
else
  res = redis.call('GEOSEARCH', KEYS[1], 'FROMLONLAT', ARGV[1], ARGV[2], 'BYRADIUS', ARGV[3], 'm', 'ASC', 'WITHDIST')
end
local ids = {}
for _, r in ipairs(res) do ids[#ids + 1] = r[1] end
for i = 5, #ARGV do ids[#ids + 1] = ARGV[i] end
local loads = {}
for i = 1, #ids do loads[i] = 0 end
if #ids > 0 then
  for k = 2, #KEYS do
    local vs = redis.call('HMGET', KEYS[k], unpack(ids))
    for i = 1, #ids do
      if vs[i] then loads[i] = loads[i] + tonumber(vs[i]) end
    end
  end
end
local flat = {}
for i = 1, #ids do
  flat[#flat + 1] = ids[i]
  flat[#flat + 1] = loads[i]
end
res[#res + 1] = flat
return res
`)

// NearbyUnitsLoads is NearbyUnits and OpenLoads (of the units found and of
// extra) at once: one script on a single server, two calls on Cluster.
// Errors: EINVALID, EUNAVAILABLE.
func (x *UnitIndex) NearbyUnitsLoads(ctx context.Context, category string, tier hotline.Tier, lat, long, radius float64, count int, extra []string) ([]hotline.UnitDistance, map[string]int, error) {
	if _, cluster := x.db.client.(*redis.ClusterClient); cluster {
		near, err := x.NearbyUnits(ctx, category, tier, lat, long, radius, count)
		if err != nil {
			return nil, nil, err
		}
		ids := append([]string(nil), extra...)
		for _, n := range near {
			ids = append(ids, n.UnitID)
		}
		loads, err := x.OpenLoads(ctx, ids)
		return near, loads, err
	}
	if radius < 0 {
		return nil, nil, hotline.Errorf(hotline.EINVALID, "radius must not be negative")
	}
	keys := make([]string, 0, 1+partitions)
	keys = append(keys, x.geoKey(category, tier))
	for p := range partitions {
		keys = append(keys, x.db.pkey(p, "load"))
	}
	args := make([]any, 0, 4+len(extra))
	args = append(args, strconv.FormatFloat(long, 'f', -1, 64), strconv.FormatFloat(lat, 'f', -1, 64),
		strconv.FormatFloat(radius, 'f', -1, 64), max(count, 0))
	for _, id := range extra {
		args = append(args, id)
	}
	raw, err := nearbyLoadsScript.Run(ctx, x.db.client, keys, args...).Slice()
	if err != nil {
		return nil, nil, storeErr(err)
	}
	if len(raw) == 0 {
		return nil, nil, hotline.Internal(fmt.Errorf("nearby script answered nothing"))
	}
	near := make([]hotline.UnitDistance, 0, len(raw)-1)
	for _, r := range raw[:len(raw)-1] {
		pair, _ := r.([]any)
		if len(pair) != 2 {
			return nil, nil, hotline.Internal(fmt.Errorf("nearby script answered %v", r))
		}
		id, _ := pair[0].(string)
		ds, _ := pair[1].(string)
		d, err := strconv.ParseFloat(ds, 64)
		if err != nil {
			return nil, nil, hotline.Internal(fmt.Errorf("nearby script distance %q: %w", ds, err))
		}
		near = append(near, hotline.UnitDistance{UnitID: id, Distance: d})
	}
	flat, _ := raw[len(raw)-1].([]any)
	loads := make(map[string]int, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		id, _ := flat[i].(string)
		n, _ := flat[i+1].(int64)
		loads[id] = int(n)
	}
	return near, loads, nil
}
