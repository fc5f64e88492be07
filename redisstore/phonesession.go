package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/redis/go-redis/v9"
)

// PhoneSessions keeps the state of calls and SMS exchanges, and the
// answers given to Twilio's webhooks, as one string per key:
// P:phone:<nameHash(key)>, with the TTL the caller gives. Keys are hashed
// because an SMS exchange is named by the resident's number.
type PhoneSessions struct {
	db *DB
}

var _ hotline.PhoneSessions = (*PhoneSessions)(nil)

// NewPhoneSessions returns the phone sessions on db.
func NewPhoneSessions(db *DB) *PhoneSessions { return &PhoneSessions{db: db} }

func (s *PhoneSessions) key(k string) string { return s.db.key("phone", nameHash(k)) }

// rememberScript stores a reply unless one is stored already and returns
// the stored one: the check and the write are one step, so two deliveries
// of one webhook racing each other get the same answer.
//
// KEYS: 1 the key. ARGV: 1 reply, 2 TTL ms.
// Returns {1, reply} when stored now, {0, the stored reply} otherwise.
var rememberScript = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {1, ARGV[1]}
end
return {0, redis.call('GET', KEYS[1])}
`)

// ttlMS checks a TTL and returns it in whole milliseconds, rounded up.
func ttlMS(ttl time.Duration) (int64, error) {
	if ttl < time.Millisecond {
		return 0, hotline.Errorf(hotline.EINVALID, "a phone session needs a TTL of at least 1ms, got %v", ttl)
	}
	return (ttl + time.Millisecond - 1).Milliseconds(), nil
}

// Load implements hotline.PhoneSessions. Errors: EINTERNAL when the stored
// JSON does not decode into v, EUNAVAILABLE.
func (s *PhoneSessions) Load(ctx context.Context, key string, v any) (bool, error) {
	b, err := s.db.client.Get(ctx, s.key(key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return false, nil
	} else if err != nil {
		return false, storeErr(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, hotline.Internal(fmt.Errorf("decode phone session: %w", err))
	}
	return true, nil
}

// Save implements hotline.PhoneSessions. Errors: EINVALID (TTL under 1ms),
// EINTERNAL (v does not encode), EUNAVAILABLE.
func (s *PhoneSessions) Save(ctx context.Context, key string, v any, ttl time.Duration) error {
	ms, err := ttlMS(ttl)
	if err != nil {
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return hotline.Internal(fmt.Errorf("encode phone session: %w", err))
	}
	return storeErr(s.db.client.Set(ctx, s.key(key), b, time.Duration(ms)*time.Millisecond).Err())
}

// Delete implements hotline.PhoneSessions. Errors: EUNAVAILABLE.
func (s *PhoneSessions) Delete(ctx context.Context, key string) error {
	return storeErr(s.db.client.Del(ctx, s.key(key)).Err())
}

// Remember implements hotline.PhoneSessions. Errors: EINVALID (TTL under
// 1ms), EUNAVAILABLE.
func (s *PhoneSessions) Remember(ctx context.Context, key string, reply []byte, ttl time.Duration) ([]byte, bool, error) {
	ms, err := ttlMS(ttl)
	if err != nil {
		return nil, false, err
	}
	res, err := rememberScript.Run(ctx, s.db.client, []string{s.key(key)}, reply, ms).Slice()
	if err != nil {
		return nil, false, storeErr(err)
	}
	if len(res) != 2 {
		return nil, false, hotline.Internal(fmt.Errorf("remember script answered %v", res))
	}
	first, _ := res[0].(int64)
	stored, ok := res[1].(string)
	if !ok {
		return nil, false, hotline.Internal(fmt.Errorf("remember script answered %v", res))
	}
	return []byte(stored), first == 1, nil
}
