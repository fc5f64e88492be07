package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/redis/go-redis/v9"
)

const (
	// outboxRetention is how long a message is kept once the outbox is
	// done with it (and its dedupe key and sid with it): long enough to
	// answer "did the resident get the text?" about last quarter's tickets,
	// short enough that the outbox does not grow for ever. Queued messages
	// never expire.
	outboxRetention = 90 * 24 * time.Hour

	// outboxPerPhone is how many message ids MessagesTo keeps per number.
	outboxPerPhone = 200
)

// Outbox keeps outgoing SMS until they are sent and records what became of
// them. Every key lives under the {outbox} hash tag, so the scripts that
// write a message together with its queue entry, dedupe key, sid and
// per-number list stay in one Cluster slot:
//
//	P:{outbox}:seq             INCR, message ids are "m<n>"
//	P:{outbox}:m:<id>          hash, the message (field names: see msgFields)
//	P:{outbox}:queue           zset, queued ids scored by NextAt (a claim
//	                           moves the score to the lease end)
//	P:{outbox}:key:<hash>      string, the id first stored for an Enqueue key
//	P:{outbox}:sid:<sid>       string, the id Twilio knows as sid
//	P:{outbox}:to:<hash>       list, the latest ids sent to one number
//
// Keys and numbers are hashed (nameHash) so that no key name holds a
// resident's number. All times are whole unix milliseconds.
type Outbox struct {
	db *DB
}

var _ hotline.Outbox = (*Outbox)(nil)

// NewOutbox returns the outbox on db.
func NewOutbox(db *DB) *Outbox { return &Outbox{db: db} }

func (o *Outbox) key(parts ...string) string {
	return join(o.db.prefix+":{outbox}", parts)
}

// nameHash stands for a caller's string inside a key name: 128 bits of its
// SHA-256, as the rate limiter does.
func nameHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}

// Message hash fields. Short names: the hash is read whole on every claim.
//
//	id, key, to, body, ticket, kind, status, attempts, sid, err,
//	next (NextAt ms, 0 for none), created, updated (ms),
//	kh (the dedupe key's hash, so the final scripts can expire it).

// luaOutboxFinal expires a message that the outbox is done with, with its
// dedupe key. m: the message key; kp: "P:{outbox}:key:"; ttl: seconds.
const luaOutboxFinal = `
local function final(m, kp, ttl)
  redis.call('EXPIRE', m, ttl)
  local kh = redis.call('HGET', m, 'kh')
  if kh then
    redis.call('EXPIRE', kp .. kh, ttl)
  end
end
`

// enqueueScript stores a message unless its key was seen before: the
// dedupe check and the write are one step, so concurrent Enqueues of one
// key store one message.
//
// KEYS: 1 seq, 2 queue, 3 dedupe key, 4 the number's list.
// ARGV: 1 "P:{outbox}:m:", 2 key, 3 to, 4 body, 5 ticket id, 6 kind,
// 7 next ms, 8 created ms, 9 dedupe hash, 10 list cap, 11 retention s.
// Returns {1, id} when stored, {0, id, HGETALL of it} when the key was
// seen before.
var enqueueScript = redis.NewScript(`
local existing = redis.call('GET', KEYS[3])
if existing then
  local m = redis.call('HGETALL', ARGV[1] .. existing)
  if #m > 0 then
    return {0, existing, m}
  end
end
local id = 'm' .. redis.call('INCR', KEYS[1])
redis.call('HSET', ARGV[1] .. id, 'id', id, 'key', ARGV[2], 'to', ARGV[3], 'body', ARGV[4],
  'ticket', ARGV[5], 'kind', ARGV[6], 'status', 'queued', 'attempts', '0', 'next', ARGV[7],
  'created', ARGV[8], 'updated', ARGV[8], 'kh', ARGV[9])
redis.call('ZADD', KEYS[2], ARGV[7], id)
redis.call('SET', KEYS[3], id)
redis.call('LPUSH', KEYS[4], id)
redis.call('LTRIM', KEYS[4], 0, tonumber(ARGV[10]) - 1)
redis.call('EXPIRE', KEYS[4], ARGV[11])
return {1, id}
`)

// claimOutboxScript is claimDueScript for the outbox: it hands out the
// queued messages due at now and moves their scores to the lease end in
// one step, so two senders never take the same message, and one whose
// sender died comes due again when the lease ends. An id whose message is
// gone (it cannot be, short of a manual DEL) leaves the queue.
//
// KEYS: 1 queue. ARGV: 1 "P:{outbox}:m:", 2 now ms, 3 lease end ms, 4 max.
// Returns the messages as HGETALL arrays, earliest NextAt first.
var claimOutboxScript = redis.NewScript(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', '0', ARGV[4])
local out = {}
for _, id in ipairs(ids) do
  local m = redis.call('HGETALL', ARGV[1] .. id)
  if #m > 0 then
    redis.call('ZADD', KEYS[1], ARGV[3], id)
    out[#out + 1] = m
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
`)

// markSentScript records Twilio's acceptance: the sid (mapped back to the
// message for status callbacks), status sent, one attempt more, out of the
// queue. On a message that is no longer queued (its lease ran out and
// another sender got there too, or a callback came first) it only maps the
// sid, so the message's status never goes back.
//
// KEYS: 1 queue, 2 message, 3 sid key. ARGV: 1 id, 2 sid, 3 now ms,
// 4 retention s, 5 "P:{outbox}:key:". Returns 1, or -1 when the message is gone.
var markSentScript = redis.NewScript(luaOutboxFinal + `
local st = redis.call('HGET', KEYS[2], 'status')
if not st then
  return -1
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('SET', KEYS[3], ARGV[1], 'EX', ARGV[4])
if st == 'queued' then
  redis.call('HSET', KEYS[2], 'status', 'sent', 'sid', ARGV[2], 'err', '', 'updated', ARGV[3])
  redis.call('HINCRBY', KEYS[2], 'attempts', 1)
  final(KEYS[2], ARGV[5], ARGV[4])
end
return 1
`)

// retryScript puts a queued message back for another attempt.
//
// KEYS: 1 queue, 2 message. ARGV: 1 id, 2 at ms, 3 reason, 4 now ms.
// Returns 1, 0 when the message is no longer queued, -1 when it is gone.
var retryScript = redis.NewScript(`
local st = redis.call('HGET', KEYS[2], 'status')
if not st then
  return -1
end
if st ~= 'queued' then
  return 0
end
redis.call('HINCRBY', KEYS[2], 'attempts', 1)
redis.call('HSET', KEYS[2], 'next', ARGV[2], 'err', ARGV[3], 'updated', ARGV[4])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return 1
`)

// finishScript ends a queued message that will not be sent. Finishing it
// again with the same status changes nothing.
//
// KEYS: 1 queue, 2 message. ARGV: 1 id, 2 status, 3 reason, 4 now ms,
// 5 retention s, 6 "P:{outbox}:key:".
// Returns 1, 0 when it already ended otherwise, -1 when it is gone.
var finishScript = redis.NewScript(luaOutboxFinal + `
local st = redis.call('HGET', KEYS[2], 'status')
if not st then
  return -1
end
if st == ARGV[2] then
  return 1
end
if st ~= 'queued' then
  return 0
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], 'status', ARGV[2], 'err', ARGV[3], 'updated', ARGV[4])
final(KEYS[2], ARGV[6], ARGV[5])
return 1
`)

// recordStatusScript applies a status callback unless the message already
// stands as far or further: Twilio's callbacks may arrive in any order,
// and a late "sent" must not undo "delivered". Ranks (statusRank): sent 1,
// then delivered, undelivered and failed 2, each final, so the first final
// status wins. The outbox's own statuses rank the same way (queued 0,
// failed and suppressed final).
//
// KEYS: 1 sid key, 2 queue. ARGV: 1 "P:{outbox}:m:", 2 status, 3 its rank,
// 4 error code ("" to keep the stored one), 5 now ms.
// Returns 1 when applied, 0 when the message was already as far, -1 when
// the sid or its message is unknown.
var recordStatusScript = redis.NewScript(`
local id = redis.call('GET', KEYS[1])
if not id then
  return -1
end
local m = ARGV[1] .. id
local st = redis.call('HGET', m, 'status')
if not st then
  return -1
end
local rank = {queued = 0, sent = 1, delivered = 2, undelivered = 2, failed = 2, suppressed = 2}
if (rank[st] or 0) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('HSET', m, 'status', ARGV[2], 'updated', ARGV[5])
if ARGV[4] ~= '' then
  redis.call('HSET', m, 'err', ARGV[4])
end
redis.call('ZREM', KEYS[2], id)
return 1
`)

// statusRank orders the statuses a callback may carry; see
// recordStatusScript. Twilio's early statuses (queued, accepted,
// scheduled, sending) rank 0: they never move a message.
func statusRank(s hotline.MessageStatus) (int, bool) {
	switch s {
	case hotline.MessageSent:
		return 1, true
	case hotline.MessageDelivered, hotline.MessageUndelivered, hotline.MessageFailed:
		return 2, true
	case hotline.MessageQueued, "accepted", "scheduled", "sending":
		return 0, true
	}
	return 0, false
}

// Enqueue implements hotline.Outbox. Times are kept to the millisecond; m
// gets them as stored. Errors: EINVALID (no To, Body or Key), EUNAVAILABLE.
func (o *Outbox) Enqueue(ctx context.Context, m *hotline.OutboundMessage) (bool, error) {
	if m == nil {
		return false, hotline.Errorf(hotline.EINVALID, "no message given")
	}
	fe := hotline.FieldErrors{}
	if m.To == "" {
		fe.Add("to", "required: the number to text, in E.164 (+8613800138000)")
	}
	if m.Body == "" {
		fe.Add("body", "required: the text to send")
	}
	if m.Key == "" {
		fe.Add("key", "required: a key that names this message, so it is sent once")
	}
	if err := fe.Err(); err != nil {
		return false, err
	}
	c := *m
	now := time.Now().UTC().Truncate(time.Millisecond)
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now
	}
	c.CreatedAt = c.CreatedAt.UTC().Truncate(time.Millisecond)
	if c.NextAt.IsZero() {
		c.NextAt = now
	}
	c.NextAt = c.NextAt.UTC().Truncate(time.Millisecond)
	c.UpdatedAt, c.Status, c.Attempts, c.SID, c.Error = c.CreatedAt, hotline.MessageQueued, 0, "", ""

	kh := nameHash(c.Key)
	res, err := enqueueScript.Run(ctx, o.db.client,
		[]string{o.key("seq"), o.key("queue"), o.key("key", kh), o.key("to", nameHash(c.To))},
		o.key("m")+":", c.Key, c.To, c.Body, c.TicketID, c.Kind, c.NextAt.UnixMilli(), c.CreatedAt.UnixMilli(),
		kh, outboxPerPhone, int64(outboxRetention/time.Second)).Slice()
	if err != nil {
		return false, storeErr(err)
	}
	if len(res) < 2 {
		return false, hotline.Internal(fmt.Errorf("enqueue script answered %v", res))
	}
	created, _ := res[0].(int64)
	id, _ := res[1].(string)
	if created == 1 {
		c.ID = id
		*m = c
		return true, nil
	}
	if len(res) != 3 {
		return false, hotline.Internal(fmt.Errorf("enqueue script answered %v", res))
	}
	first, err := decodeMessage(res[2])
	if err != nil {
		return false, err
	}
	*m = *first
	return false, nil
}

// Claim implements hotline.Outbox. Errors: EINVALID when lease is not
// positive (a claim must hide the message from the next sender),
// EUNAVAILABLE.
func (o *Outbox) Claim(ctx context.Context, now time.Time, lease time.Duration, n int) ([]*hotline.OutboundMessage, error) {
	if lease <= 0 {
		return nil, hotline.Errorf(hotline.EINVALID, "claim lease must be positive, got %v", lease)
	}
	if n <= 0 {
		return nil, nil
	}
	// As in DeadlineQueue.ClaimDue: due within the millisecond, the lease
	// rounded up so that it always moves the score.
	nowMS := now.UnixMilli()
	until := nowMS + (lease + time.Millisecond - 1).Milliseconds()
	res, err := claimOutboxScript.Run(ctx, o.db.client, []string{o.key("queue")},
		o.key("m")+":", nowMS, until, n).Slice()
	if err != nil {
		return nil, storeErr(err)
	}
	out := make([]*hotline.OutboundMessage, 0, len(res))
	for _, r := range res {
		m, err := decodeMessage(r)
		if err != nil {
			return out, err
		}
		out = append(out, m)
	}
	return out, nil
}

// MarkSent implements hotline.Outbox. It counts the send as an attempt.
// Marking a message that is no longer queued only records the sid, so
// that a second sender's callbacks find it; its status does not change.
// Errors: EINVALID (no sid), ENOTFOUND, EUNAVAILABLE.
func (o *Outbox) MarkSent(ctx context.Context, id, sid string) error {
	if sid == "" {
		return hotline.Errorf(hotline.EINVALID, "no message sid given")
	}
	if id == "" {
		return messageNotFound()
	}
	res, err := markSentScript.Run(ctx, o.db.client,
		[]string{o.key("queue"), o.key("m", id), o.key("sid", sid)},
		id, sid, time.Now().UnixMilli(), int64(outboxRetention/time.Second), o.key("key")+":").Int64()
	if err != nil {
		return storeErr(err)
	}
	if res < 0 {
		return messageNotFound()
	}
	return nil
}

// Retry implements hotline.Outbox. Errors: ENOTFOUND, ECONFLICT when the
// message is no longer queued (another sender sent it after this one's
// lease ran out, or it was finished), EUNAVAILABLE.
func (o *Outbox) Retry(ctx context.Context, id string, at time.Time, reason string) error {
	if id == "" {
		return messageNotFound()
	}
	res, err := retryScript.Run(ctx, o.db.client, []string{o.key("queue"), o.key("m", id)},
		id, at.UnixMilli(), reason, time.Now().UnixMilli()).Int64()
	if err != nil {
		return storeErr(err)
	}
	switch res {
	case -1:
		return messageNotFound()
	case 0:
		return hotline.Errorf(hotline.ECONFLICT, "message %s is no longer queued; it was sent or ended meanwhile", id)
	}
	return nil
}

// Finish implements hotline.Outbox. status must be suppressed or failed.
// Finishing a message again with the same status is a no-op. Errors:
// EINVALID (another status), ENOTFOUND, ECONFLICT (the message was sent
// or ended otherwise meanwhile), EUNAVAILABLE.
func (o *Outbox) Finish(ctx context.Context, id string, status hotline.MessageStatus, reason string) error {
	if status != hotline.MessageSuppressed && status != hotline.MessageFailed {
		return hotline.Errorf(hotline.EINVALID, "a message is finished as %q or %q, not %q",
			hotline.MessageSuppressed, hotline.MessageFailed, status)
	}
	if id == "" {
		return messageNotFound()
	}
	res, err := finishScript.Run(ctx, o.db.client, []string{o.key("queue"), o.key("m", id)},
		id, string(status), reason, time.Now().UnixMilli(), int64(outboxRetention/time.Second), o.key("key")+":").Int64()
	if err != nil {
		return storeErr(err)
	}
	switch res {
	case -1:
		return messageNotFound()
	case 0:
		return hotline.Errorf(hotline.ECONFLICT, "message %s was sent or ended meanwhile; it cannot be finished as %s", id, status)
	}
	return nil
}

// RecordStatus implements hotline.Outbox. A status that the message is
// already at or past is ignored (nil), so callbacks may come in any order
// and more than once; Twilio's early statuses (queued, accepted,
// scheduled, sending) never change a message. errorCode, when given, is
// stored with the status it came with. Errors: EINVALID (a status Twilio
// does not send), ENOTFOUND (unknown sid), EUNAVAILABLE.
func (o *Outbox) RecordStatus(ctx context.Context, sid string, status hotline.MessageStatus, errorCode string) error {
	rank, ok := statusRank(status)
	if !ok {
		return hotline.Errorf(hotline.EINVALID, "unknown message status %q", status)
	}
	if sid == "" {
		return hotline.Errorf(hotline.ENOTFOUND, "no message with that sid")
	}
	res, err := recordStatusScript.Run(ctx, o.db.client, []string{o.key("sid", sid), o.key("queue")},
		o.key("m")+":", string(status), rank, errorCode, time.Now().UnixMilli()).Int64()
	if err != nil {
		return storeErr(err)
	}
	if res < 0 {
		return hotline.Errorf(hotline.ENOTFOUND, "no message with that sid")
	}
	return nil
}

// FindMessage implements hotline.Outbox. Errors: ENOTFOUND, EUNAVAILABLE.
func (o *Outbox) FindMessage(ctx context.Context, id string) (*hotline.OutboundMessage, error) {
	if id == "" {
		return nil, messageNotFound()
	}
	h, err := o.db.client.HGetAll(ctx, o.key("m", id)).Result()
	if err != nil {
		return nil, storeErr(err)
	}
	if len(h) == 0 {
		return nil, messageNotFound()
	}
	return messageFromMap(h)
}

// MessagesTo implements hotline.Outbox: the latest messages to
// phone, newest first, at most limit (1..200; 20 when not positive).
// Messages past their retention are left out. Errors: EUNAVAILABLE.
func (o *Outbox) MessagesTo(ctx context.Context, phone string, limit int) ([]*hotline.OutboundMessage, error) {
	if limit <= 0 {
		limit = 20
	}
	limit = min(limit, outboxPerPhone)
	out := []*hotline.OutboundMessage{}
	if phone == "" {
		return out, nil
	}
	ids, err := o.db.client.LRange(ctx, o.key("to", nameHash(phone)), 0, int64(limit-1)).Result()
	if err != nil {
		return nil, storeErr(err)
	}
	if len(ids) == 0 {
		return out, nil
	}
	pipe := o.db.client.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGetAll(ctx, o.key("m", id))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, storeErr(err)
	}
	for _, c := range cmds {
		h := c.Val()
		if len(h) == 0 {
			continue
		}
		m, err := messageFromMap(h)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func messageNotFound() error { return hotline.Errorf(hotline.ENOTFOUND, "no such message") }

// decodeMessage reads a message from a script's HGETALL answer (a flat
// list of field, value).
func decodeMessage(v any) (*hotline.OutboundMessage, error) {
	flat, ok := v.([]any)
	if !ok || len(flat)%2 != 0 {
		return nil, hotline.Internal(fmt.Errorf("stored message is %T %v", v, v))
	}
	h := make(map[string]string, len(flat)/2)
	for i := 0; i < len(flat); i += 2 {
		k, _ := flat[i].(string)
		val, _ := flat[i+1].(string)
		h[k] = val
	}
	return messageFromMap(h)
}

func messageFromMap(h map[string]string) (*hotline.OutboundMessage, error) {
	var errs []error
	num := func(f string) int64 {
		if h[f] == "" {
			return 0
		}
		n, err := strconv.ParseInt(h[f], 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("field %s: %w", f, err))
		}
		return n
	}
	ms := func(f string) time.Time {
		if n := num(f); n != 0 {
			return time.UnixMilli(n).UTC()
		}
		return time.Time{}
	}
	m := &hotline.OutboundMessage{
		ID: h["id"], Key: h["key"], To: h["to"], Body: h["body"], TicketID: h["ticket"], Kind: h["kind"],
		Status: hotline.MessageStatus(h["status"]), Attempts: int(num("attempts")), NextAt: ms("next"),
		SID: h["sid"], Error: h["err"], CreatedAt: ms("created"), UpdatedAt: ms("updated"),
	}
	if err := errors.Join(errs...); err != nil {
		return nil, hotline.Internal(fmt.Errorf("decode stored message %s: %w", m.ID, err))
	}
	return m, nil
}
