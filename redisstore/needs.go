package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/redis/go-redis/v9"
)

var _ hotline.NeedSource = (*TicketStore)(nil)

// needPage is how many tickets ScanNeeds reads per round trip: one
// ZRANGE of ids, then one pipeline of as many HGETs. 2,000 stored tickets
// are about 2 MB on the wire, a page the decoder turns round in a few
// milliseconds while the next is on its way.
const needPage = 2000

// needDoc is the part of a stored ticket's JSON a NeedRecord takes.
// Decoding into it instead of hotline.Ticket skips the contact's names,
// the declined units, the notes and the other times: the grouping job
// reads a year of tickets every night, and decoding is most of its cost.
type needDoc struct {
	ID          string `json:"id"`
	ServiceCode string `json:"service_code"`
	Description string `json:"description"`
	Location    struct {
		Lat       float64 `json:"lat"`
		Long      float64 `json:"long"`
		Committee string  `json:"committee"`
	} `json:"location"`
	Contact struct {
		Phone string `json:"phone"`
	} `json:"contact"`
	Language     string         `json:"language"`
	Status       hotline.Status `json:"status"`
	UnitID       string         `json:"unit_id"`
	MergedInto   string         `json:"merged_into"`
	Tier         hotline.Tier   `json:"tier"`
	Escalations  int            `json:"escalations"`
	OverdueNoted bool           `json:"overdue_noted"`
	Redo         bool           `json:"redo"`
	CreatedAt    time.Time      `json:"created_at"`
	ResolvedAt   time.Time      `json:"resolved_at"`
	Satisfaction int            `json:"satisfaction"`
}

// residentSalt returns the deployment's salt for ResidentKey, making one
// the first time any replica asks (SET NX: every replica then reads the
// same one). It lives beside the tickets on purpose: whoever can read it
// can read the phone numbers in the tickets anyway; what it protects is a
// ResidentKey that left Redis (in a draft, a report, an export), which
// without it could be reversed by hashing every phone number there is.
func (s *TicketStore) residentSalt(ctx context.Context) (string, error) {
	key := s.db.key("needs", "salt")
	salt, err := randomHex(16)
	if err != nil {
		return "", hotline.Internal(err)
	}
	// SETNX then GET rather than SET NX GET, which needs Redis 7: both
	// run once per scan.
	if err := s.db.client.SetNX(ctx, key, salt, 0).Err(); err != nil {
		return "", storeErr(err)
	}
	salt, err = s.db.client.Get(ctx, key).Result()
	if err != nil {
		return "", storeErr(err)
	}
	return salt, nil
}

// ResidentKey is how a need record names its resident: the first 8 bytes
// of SHA-256 over the deployment's salt and the phone number, in hex; ""
// when the number is unknown. 64 bits keep two residents of a city apart
// (a collision among a million numbers has odds of about 1 in 36 million)
// without being a number anyone can dial.
func ResidentKey(salt, phone string) string {
	if phone == "" {
		return ""
	}
	h := sha256.New()
	h.Write([]byte(salt))
	h.Write([]byte(phone))
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:8])
}

func (d *needDoc) record(salt string) hotline.NeedRecord {
	return hotline.NeedRecord{
		TicketID: d.ID, ServiceCode: d.ServiceCode, Description: d.Description, Language: d.Language,
		Committee: d.Location.Committee, Lat: d.Location.Lat, Long: d.Location.Long,
		CreatedAt: d.CreatedAt, ResolvedAt: d.ResolvedAt, ResidentKey: ResidentKey(salt, d.Contact.Phone),
		Status: d.Status, UnitID: d.UnitID, Tier: d.Tier, Escalations: d.Escalations,
		Overdue: d.OverdueNoted, Redo: d.Redo, Satisfaction: d.Satisfaction, MergedInto: d.MergedInto,
	}
}

func decodeNeed(d, salt string) (hotline.NeedRecord, error) {
	var doc needDoc
	if !parseNeed(d, &doc) {
		doc = needDoc{}
		if err := json.Unmarshal([]byte(d), &doc); err != nil {
			return hotline.NeedRecord{}, hotline.Internal(fmt.Errorf("decode stored ticket: %w", err))
		}
	}
	return doc.record(salt), nil
}

// ScanNeeds implements hotline.NeedSource. Each partition's created index
// is read in pages of needPage ids, each page's tickets in one pipeline of
// HGETs; one goroutine reads and decodes the next page while fn runs on
// the last, so fn is only ever called from one goroutine at a time and
// memory holds two pages, whatever the window. Scores are whole
// milliseconds, so the index is read to the millisecond and the window
// applied exactly to each ticket's created_at.
func (s *TicketStore) ScanNeeds(ctx context.Context, from, to time.Time, fn func(hotline.NeedRecord) error) error {
	return s.scanNeeds(ctx, from, to, needPage, fn)
}

// ScanUnitNeeds is ScanNeeds over the tickets a unit holds now (its
// index, idx:unit:<id>), for questions about one unit's work, such as
// evaluating the project an organization was bought for: it reads that
// unit's tickets, not the whole street's. Errors: EUNAVAILABLE.
func (s *TicketStore) ScanUnitNeeds(ctx context.Context, unit string, from, to time.Time, fn func(hotline.NeedRecord) error) error {
	if unit == "" {
		return hotline.Errorf(hotline.EINVALID, "no unit given")
	}
	return s.scan(ctx, []string{"idx", "unit", unit}, from, to, needPage, fn)
}

// scanNeeds is ScanNeeds with pages of size ids (tests use tiny pages).
func (s *TicketStore) scanNeeds(ctx context.Context, from, to time.Time, size int, fn func(hotline.NeedRecord) error) error {
	return s.scan(ctx, []string{"idx", "created"}, from, to, size, fn)
}

// scan streams the need records of the tickets in each partition's index
// named by index (key parts after the partition), created in [from, to).
func (s *TicketStore) scan(ctx context.Context, index []string, from, to time.Time, size int, fn func(hotline.NeedRecord) error) error {
	if !from.Before(to) {
		return nil
	}
	salt, err := s.residentSalt(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages := make(chan []hotline.NeedRecord, 1)
	fetchErr := make(chan error, 1)
	go func() {
		defer close(pages)
		fetchErr <- s.fetchNeeds(ctx, index, from, to, size, salt, pages)
	}()
	var fnErr error
	for page := range pages {
		if fnErr != nil {
			continue // drain, so the reader is not left blocked
		}
		for _, r := range page {
			if fnErr = fn(r); fnErr != nil {
				cancel()
				break
			}
		}
	}
	if err := <-fetchErr; fnErr == nil && err != nil {
		return err
	}
	return fnErr
}

// fetchNeeds reads every partition's tickets of index created in [from,
// to) and sends them page by page.
func (s *TicketStore) fetchNeeds(ctx context.Context, index []string, from, to time.Time, size int, salt string, out chan<- []hotline.NeedRecord) error {
	hi := strconv.FormatInt(to.UnixMilli(), 10)
	for p := range partitions {
		// The cursor is a score and how many ids of that score were read:
		// ids created in the same millisecond may straddle two pages.
		lo, skip := from.UnixMilli(), int64(0)
		for {
			zs, err := s.db.client.ZRangeByScoreWithScores(ctx, s.pkey(p, index...), &redis.ZRangeBy{
				Min: strconv.FormatInt(lo, 10), Max: hi, Offset: skip, Count: int64(size),
			}).Result()
			if err != nil {
				return storeErr(err)
			}
			if len(zs) == 0 {
				break
			}
			ids := make([]string, len(zs))
			for i, z := range zs {
				ids[i], _ = z.Member.(string)
			}
			page, err := s.needsOf(ctx, p, ids, salt)
			if err != nil {
				return err
			}
			kept := page[:0]
			for _, r := range page {
				if !r.CreatedAt.Before(from) && r.CreatedAt.Before(to) {
					kept = append(kept, r)
				}
			}
			select {
			case out <- kept:
			case <-ctx.Done():
				return hotline.Unavailable(ctx.Err())
			}
			if len(zs) < size {
				break
			}
			last := int64(zs[len(zs)-1].Score)
			same := int64(0)
			for i := len(zs) - 1; i >= 0 && int64(zs[i].Score) == last; i-- {
				same++
			}
			if last == lo {
				skip += same
			} else {
				lo, skip = last, same
			}
		}
	}
	return nil
}

// needsOf reads the tickets ids of partition p (-1: each id's own) in one
// pipeline, leaving out those not found. A ticket whose phone was erased
// (retention.go) counts as the resident its stored key (field rk) names.
func (s *TicketStore) needsOf(ctx context.Context, p int, ids []string, salt string) ([]hotline.NeedRecord, error) {
	pipe := s.db.client.Pipeline()
	cmds := make([]*redis.SliceCmd, 0, len(ids))
	for _, id := range ids {
		q := p
		if q < 0 {
			var ok bool
			if q, ok = partitionOf(id); !ok {
				continue
			}
		}
		cmds = append(cmds, pipe.HMGet(ctx, s.pkey(q, "t", id), "d", "rk"))
	}
	if len(cmds) == 0 {
		return nil, nil
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, storeErr(err)
	}
	out := make([]hotline.NeedRecord, 0, len(cmds))
	for _, c := range cmds {
		vals := c.Val()
		d, ok := vals[0].(string)
		if !ok {
			continue // deleted between the index read and now
		}
		r, err := decodeNeed(d, salt)
		if err != nil {
			return nil, err
		}
		if rk, _ := vals[1].(string); r.ResidentKey == "" {
			r.ResidentKey = rk
		}
		out = append(out, r)
	}
	return out, nil
}

// NeedRecords returns the need records of the given tickets, in the order
// of ids, leaving out ids malformed or not found: what splitting a project
// re-counts its evidence from, without scanning a year of tickets.
// Errors: EUNAVAILABLE.
func (s *TicketStore) NeedRecords(ctx context.Context, ids []string) ([]hotline.NeedRecord, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	salt, err := s.residentSalt(ctx)
	if err != nil {
		return nil, err
	}
	return s.needsOf(ctx, -1, ids, salt)
}

// CountNeeds counts the tickets created in [from, to), to the millisecond
// (a few at the edges may be counted that ScanNeeds leaves out): the total
// of a progress bar. One ZCOUNT per partition, pipelined.
// Errors: EUNAVAILABLE.
func (s *TicketStore) CountNeeds(ctx context.Context, from, to time.Time) (int, error) {
	if !from.Before(to) {
		return 0, nil
	}
	lo, hi := strconv.FormatInt(from.UnixMilli(), 10), strconv.FormatInt(to.UnixMilli(), 10)
	pipe := s.db.client.Pipeline()
	counts := make([]*redis.IntCmd, partitions)
	for p := range partitions {
		counts[p] = pipe.ZCount(ctx, s.pkey(p, "idx", "created"), lo, hi)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, storeErr(err)
	}
	n := 0
	for _, c := range counts {
		n += int(c.Val())
	}
	return n, nil
}

// parseNeed fills doc from a stored ticket's JSON without reflection: it
// walks the top-level object, reads the keys needDoc has and skips the
// values of every other, never building them. The stored JSON is what
// encoding/json wrote, so the walk only knows what that writes (no
// comments, no duplicate keys); anything else makes it report false and
// the caller decodes with encoding/json instead. TestParseNeedMatchesJSON
// keeps the two in step. (encoding/json first validates the whole
// document, then decodes through reflection: about 10 µs for a 900-byte
// ticket, most of the nightly scan's CPU.)
func parseNeed(d string, doc *needDoc) bool {
	p := needParser{s: d}
	return p.object(func(key string) bool {
		switch key {
		case "id":
			return p.str(&doc.ID)
		case "service_code":
			return p.str(&doc.ServiceCode)
		case "description":
			return p.str(&doc.Description)
		case "language":
			return p.str(&doc.Language)
		case "status":
			st, ok := p.key()
			doc.Status = internStatus(st)
			return ok
		case "unit_id":
			return p.str(&doc.UnitID)
		case "merged_into":
			return p.str(&doc.MergedInto)
		case "tier":
			var n int
			ok := p.int(&n)
			doc.Tier = hotline.Tier(n)
			return ok
		case "escalations":
			return p.int(&doc.Escalations)
		case "satisfaction":
			return p.int(&doc.Satisfaction)
		case "overdue_noted":
			return p.bool(&doc.OverdueNoted)
		case "redo":
			return p.bool(&doc.Redo)
		case "created_at":
			return p.time(&doc.CreatedAt)
		case "resolved_at":
			return p.time(&doc.ResolvedAt)
		case "location":
			return p.object(func(key string) bool {
				switch key {
				case "lat":
					return p.float(&doc.Location.Lat)
				case "long":
					return p.float(&doc.Location.Long)
				case "committee":
					return p.str(&doc.Location.Committee)
				}
				return p.skip()
			})
		case "contact":
			return p.object(func(key string) bool {
				if key == "phone" {
					return p.str(&doc.Contact.Phone)
				}
				return p.skip()
			})
		}
		return p.skip()
	}) && p.i == len(p.s)
}

// internStatus returns the constant equal to s, so a record's status
// shares its bytes with every other's.
func internStatus(s string) hotline.Status {
	for _, st := range hotline.Statuses {
		if string(st) == s {
			return st
		}
	}
	return hotline.Status(strings.Clone(s))
}

// needParser is parseNeed's cursor over the JSON text. encoding/json
// writes no whitespace, so none is skipped.
type needParser struct {
	s string
	i int
}

// object reads {"key":value,…}, calling field for each key with the
// cursor on its value; field must consume the value. null reads as {}.
func (p *needParser) object(field func(key string) bool) bool {
	if strings.HasPrefix(p.s[p.i:], "null") {
		p.i += 4
		return true
	}
	if p.i >= len(p.s) || p.s[p.i] != '{' {
		return false
	}
	p.i++
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return true
	}
	for {
		key, ok := p.key()
		if !ok || p.i >= len(p.s) || p.s[p.i] != ':' {
			return false
		}
		p.i++
		if !field(key) || p.i >= len(p.s) {
			return false
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return true
		default:
			return false
		}
	}
}

// str reads a string. One without escapes is cloned out of the document
// (a record must not pin the whole ticket's JSON in memory); one with
// escapes is rare (quotes, control characters, <>& in a description) and
// goes through encoding/json.
func (p *needParser) str(out *string) bool {
	v, ok := p.key()
	if ok {
		*out = strings.Clone(v)
	}
	return ok
}

// key reads a string without cloning it: an object key, only compared.
// (It returns the value rather than filling a pointer so that the
// caller's variable stays on the stack.)
func (p *needParser) key() (string, bool) {
	raw, escaped, ok := p.rawString()
	switch {
	case !ok:
		return "", false
	case escaped:
		var v string
		err := json.Unmarshal([]byte(raw), &v)
		return v, err == nil
	}
	return raw[1 : len(raw)-1], true
}

// rawString passes over the string at the cursor and returns it with its
// quotes, and whether it holds an escape.
func (p *needParser) rawString() (raw string, escaped, ok bool) {
	if p.i >= len(p.s) || p.s[p.i] != '"' {
		return "", false, false
	}
	start := p.i
	j := p.i + 1
	for {
		q := strings.IndexByte(p.s[j:], '"')
		if q < 0 {
			return "", false, false
		}
		seg := p.s[j : j+q]
		b := strings.IndexByte(seg, '\\')
		if b < 0 {
			p.i = j + q + 1
			return p.s[start:p.i], escaped, true
		}
		// An escape before the quote: step over it and look again.
		escaped = true
		j += b + 2
		if j > len(p.s) {
			return "", false, false
		}
	}
}

// literal returns the number, true, false or null at the cursor.
func (p *needParser) literal() string {
	j := p.i
	for j < len(p.s) {
		switch p.s[j] {
		case ',', '}', ']':
			lit := p.s[p.i:j]
			p.i = j
			return lit
		}
		j++
	}
	return ""
}

func (p *needParser) int(out *int) bool {
	n, err := strconv.Atoi(p.literal())
	*out = n
	return err == nil
}

func (p *needParser) float(out *float64) bool {
	f, err := strconv.ParseFloat(p.literal(), 64)
	*out = f
	return err == nil
}

func (p *needParser) bool(out *bool) bool {
	switch p.literal() {
	case "true":
		*out = true
	case "false":
		*out = false
	default:
		return false
	}
	return true
}

func (p *needParser) time(out *time.Time) bool {
	s, ok := p.key()
	if !ok {
		return false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	*out = t
	return err == nil
}

// skip passes over one value of any kind.
func (p *needParser) skip() bool {
	if p.i >= len(p.s) {
		return false
	}
	switch p.s[p.i] {
	case '"':
		_, _, ok := p.rawString()
		return ok
	case '{', '[':
		depth := 0
		for j := p.i; j < len(p.s); j++ {
			switch p.s[j] {
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					p.i = j + 1
					return true
				}
			case '"':
				for j++; j < len(p.s) && p.s[j] != '"'; j++ {
					if p.s[j] == '\\' {
						j++
					}
				}
			}
		}
		return false
	}
	return p.literal() != ""
}
