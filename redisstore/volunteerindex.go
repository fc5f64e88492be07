package redisstore

import (
	"context"
	"errors"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// volunteerIndexVersion is the version of the volunteer indexes this code
// writes: 2 added the GEO sets per language (hotline.LanguageSkill).
const volunteerIndexVersion = 2

// volunteerIndexScript adds a volunteer to GEO sets if their record is
// still at the version read, so that a volunteer changed meanwhile (left,
// moved, suspended: their write put them where they belong) is not put
// back where they no longer do.
//
// KEYS: 1 the volunteer hash, then the GEO sets. ARGV: 1 version read, 2
// long, 3 lat, 4 id. Returns 1 when indexed, 0 when the record moved on.
var volunteerIndexScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'v') ~= ARGV[1] then return 0 end
for i = 2, #KEYS do
  redis.call('GEOADD', KEYS[i], ARGV[2], ARGV[3], ARGV[4])
end
return 1
`)

// EnsureIndexes brings the indexes of volunteers stored by an earlier
// version up to this one's, once per registry: every replica may call it
// at start; the ones that find the version current return at once, and
// two running together only write the same members twice. It reads the
// registry in pages of loadChunk. Errors: EUNAVAILABLE.
func (s *VolunteerStore) EnsureIndexes(ctx context.Context) error {
	mark := s.key("index")
	have, err := s.db.client.Get(ctx, mark).Int()
	if err != nil && !errors.Is(err, redis.Nil) {
		return storeErr(err)
	}
	if have >= volunteerIndexVersion {
		return nil
	}
	for start := int64(0); ; start += loadChunk {
		ids, err := s.db.client.ZRange(ctx, s.key("all"), start, start+loadChunk-1).Result()
		if err != nil {
			return storeErr(err)
		}
		if len(ids) == 0 {
			break
		}
		vs, err := s.load(ctx, ids)
		if err != nil {
			return err
		}
		// Loaded first, so that the pipeline's EVALSHAs find it.
		if err := volunteerIndexScript.Load(ctx, s.db.client).Err(); err != nil {
			return storeErr(err)
		}
		pipe := s.db.client.Pipeline()
		for _, v := range vs {
			geos := s.geoIndexes(v)
			if len(geos) == 0 {
				continue
			}
			volunteerIndexScript.EvalSha(ctx, pipe, append([]string{s.vkey(v.ID)}, geos...),
				v.Version, strconv.FormatFloat(v.Long, 'f', -1, 64), strconv.FormatFloat(v.Lat, 'f', -1, 64), v.ID)
		}
		if pipe.Len() == 0 {
			continue
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return storeErr(err)
		}
	}
	return storeErr(s.db.client.Set(ctx, mark, volunteerIndexVersion, 0).Err())
}
