package grouping

import (
	"hash/fnv"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/caojiadu/hotline"
)

// Options tune the grouping. Zero fields take the defaults of WithDefaults.
type Options struct {
	// Similarity is the least cosine similarity of a ticket to a group's
	// centroid for the ticket to join it (default 0.25). On the generated
	// histories of the tests, different needs of one category and place
	// stay apart down to 0.15 (they merge at 0.10) and the paraphrases of
	// a need hold together up to 0.25 (they start to split at 0.30); and
	// two unrelated tickets of five words that share one word have a
	// cosine of about 0.2, so below 0.25 such chance pairs start to make
	// drafts (the benchmark's one-off tickets: about 8,000 drafts at 0.20,
	// 250 at 0.25, 12 at 0.30).
	Similarity float64
	// NeighbourMetres: committees whose offices are within this distance
	// are neighbours (default 1500, about the width of the demo street).
	NeighbourMetres float64
	// A group is recurring when it spans at least MinMonths distinct
	// months or MinResidents distinct residents, and holds at least
	// MinTickets tickets (defaults 3, 5, 3).
	MinMonths    int
	MinResidents int
	MinTickets   int
	// CostPerPersonTime is in yuan (default 16.5: the case study's 15.25 M
	// yuan for 926,000 person-times).
	CostPerPersonTime float64
	// Examples is how many anonymised descriptions a draft shows (default 3).
	Examples int
}

// Defaults.
const (
	DefaultSimilarity        = 0.25
	DefaultNeighbourMetres   = 1500
	DefaultMinMonths         = 3
	DefaultMinResidents      = 5
	DefaultMinTickets        = 3
	DefaultCostPerPersonTime = 16.5
	DefaultExamples          = 3
)

// WithDefaults returns o with every zero field set to its default.
func (o Options) WithDefaults() Options {
	if o.Similarity <= 0 {
		o.Similarity = DefaultSimilarity
	}
	if o.NeighbourMetres <= 0 {
		o.NeighbourMetres = DefaultNeighbourMetres
	}
	if o.MinMonths <= 0 {
		o.MinMonths = DefaultMinMonths
	}
	if o.MinResidents <= 0 {
		o.MinResidents = DefaultMinResidents
	}
	if o.MinTickets <= 0 {
		o.MinTickets = DefaultMinTickets
	}
	if o.CostPerPersonTime <= 0 {
		o.CostPerPersonTime = DefaultCostPerPersonTime
	}
	if o.Examples <= 0 {
		o.Examples = DefaultExamples
	}
	return o
}

// callbackCode is the category of a missed call: it says nothing about a
// need, so it is never grouped.
const callbackCode = "callback"

// maxTokens bounds the words kept of one description (a record stores
// their count in a byte); a longer text is still compared on its first 255
// distinct words.
const maxTokens = 255

// record is what Add keeps of a NeedRecord: 32 bytes plus its words (4
// bytes each) and ticket id in shared arenas, no pointers, so a million
// records cost about 100 MB and nothing for the garbage collector to scan.
type record struct {
	created  int64  // CreatedAt, Unix nanoseconds
	resident uint64 // FNV-64a of ResidentKey, 0 when unknown
	tokOff   uint32 // words are toks[tokOff : tokOff+tokLen], ids sorted
	idOff    uint32 // ticket id is ids[idOff : idOff+idLen]
	cat      uint16 // index into cats
	comm     uint16 // index into comms; 0 is "no committee"
	tokLen   uint8
	idLen    uint8
	flags    uint8
	sat      uint8 // Satisfaction 1..5, 0 when not rated
}

const (
	flagEscalated  = 1 << iota // moved up a tier, overdue, or at the district
	flagUnresolved             // not resolved or closed
)

// Grouper groups records streamed with Add. It is not safe for concurrent
// use.
//
// Similarity weights words by how rare they are in the whole window, which
// is only known once every record is in, so grouping takes two passes: Add
// keeps a compact copy of each record (its words as interned ids), and
// Result clusters them.
type Grouper struct {
	dir  hotline.Directory
	opts Options

	words map[string]uint32 // interned words
	vocab []string          // word id → word
	cats  map[string]uint16
	catN  []string // category index → code
	comms map[string]uint16
	comN  []string // committee index → id; comN[0] is ""

	recs []record
	toks []uint32
	ids  []byte

	ex    examples
	ids32 []uint32

	// Records in batches (see Add): cur is filling, inflight being cut,
	// spare the buffers of the last batch kept.
	cur, inflight, spare *batch

	exhaustive bool // see clusterer
}

// New returns a grouper reading the network and catalogue of dir.
func New(dir hotline.Directory, opts Options) *Grouper {
	g := &Grouper{
		dir:   dir,
		opts:  opts.WithDefaults(),
		words: map[string]uint32{},
		cats:  map[string]uint16{},
		comms: map[string]uint16{"": 0},
		comN:  []string{""},
	}
	g.ex.init(g.opts.Examples)
	return g
}

// Add keeps what grouping needs of r. A duplicate merged into another
// ticket (MergedInto set) and a missed call (category callback) are not
// kept: the incident counts once, as the ticket it was merged into, and a
// missed call says nothing about a need.
//
// Cutting descriptions into words is most of Add's work, so records are
// taken in batches: while the caller reads the next batch, the last one
// is cut on every processor (see batch). The records are kept in the
// order they were added, as if one by one.
func (g *Grouper) Add(r hotline.NeedRecord) {
	if r.MergedInto != "" || r.ServiceCode == callbackCode {
		return
	}
	if g.cur == nil {
		g.cur = g.newBatch()
	}
	g.cur.recs = append(g.cur.recs, r)
	if len(g.cur.recs) == batchSize {
		g.finish()
		g.cur.start(g.dir)
		g.inflight, g.cur = g.cur, g.spare
		g.spare = nil
	}
}

// sync keeps every record added so far.
func (g *Grouper) sync() {
	g.finish()
	if g.cur != nil && len(g.cur.recs) > 0 {
		g.cur.start(g.dir)
		g.inflight, g.cur = g.cur, nil
		g.finish()
	}
}

// finish waits for the batch being cut, if any, and keeps its records.
func (g *Grouper) finish() {
	b := g.inflight
	if b == nil {
		return
	}
	b.wait.Wait()
	for i := range b.recs {
		g.keep(&b.recs[i], b.committees[i], b.words[i])
	}
	b.recs = b.recs[:0]
	g.inflight, g.spare = nil, b
}

func (g *Grouper) newBatch() *batch {
	return &batch{recs: make([]hotline.NeedRecord, 0, batchSize)}
}

// keep stores one record with its committee (resolved) and words.
func (g *Grouper) keep(r *hotline.NeedRecord, committee string, words []string) {
	rec := record{created: r.CreatedAt.UnixNano()}

	cat, ok := g.cats[r.ServiceCode]
	if !ok {
		cat = uint16(len(g.catN))
		g.cats[r.ServiceCode] = cat
		g.catN = append(g.catN, r.ServiceCode)
	}
	rec.cat = cat

	comm, ok := g.comms[committee]
	if !ok && len(g.comN) > math.MaxUint16 {
		// More committees than a city has: the rest count as unknown.
		comm, ok = 0, true
	}
	if !ok {
		comm = uint16(len(g.comN))
		g.comms[committee] = comm
		g.comN = append(g.comN, committee)
	}
	rec.comm = comm

	if r.ResidentKey != "" {
		rec.resident = hash64(r.ResidentKey)
		if rec.resident == 0 {
			rec.resident = 1
		}
	}
	if r.Escalations > 0 || r.Overdue || r.Tier == hotline.TierDistrict {
		rec.flags |= flagEscalated
	}
	if r.Status != hotline.StatusResolved && r.Status != hotline.StatusClosed {
		rec.flags |= flagUnresolved
	}
	if r.Satisfaction >= 1 && r.Satisfaction <= 5 {
		rec.sat = uint8(r.Satisfaction)
	}

	id := r.TicketID
	if len(id) > 255 {
		id = id[:255]
	}
	rec.idOff, rec.idLen = uint32(len(g.ids)), uint8(len(id))
	g.ids = append(g.ids, id...)

	g.ids32 = g.ids32[:0]
	for _, w := range words {
		wid, ok := g.words[w]
		if !ok {
			wid = uint32(len(g.vocab))
			g.words[w] = wid
			g.vocab = append(g.vocab, w)
		}
		g.ids32 = append(g.ids32, wid)
		if len(g.ids32) == maxTokens {
			break
		}
	}
	slices.Sort(g.ids32)
	rec.tokOff, rec.tokLen = uint32(len(g.toks)), uint8(len(g.ids32))
	g.toks = append(g.toks, g.ids32...)

	idx := int32(len(g.recs))
	g.recs = append(g.recs, rec)
	g.ex.offer(idx, cat, g.ids32, hash64(r.TicketID), r.Description)
}

// batchSize is how many records are cut into words together.
const batchSize = 1024

// batch is records whose descriptions are being cut into words (and whose
// committee is being found from their point, when they have none) by one
// goroutine per processor, each with its own tokenizer; the segmenter is
// only read once loaded.
type batch struct {
	recs       []hotline.NeedRecord
	committees []string
	words      [][]string
	toks       []tokenizer
	wait       sync.WaitGroup
}

func (b *batch) start(dir hotline.Directory) {
	n := len(b.recs)
	b.committees = slices.Grow(b.committees[:0], n)[:n]
	b.words = slices.Grow(b.words[:0], n)[:n]
	workers := min(runtime.GOMAXPROCS(0), n)
	if len(b.toks) < workers {
		b.toks = make([]tokenizer, workers)
	}
	var net *hotline.Network
	if dir != nil {
		net = dir.Network()
	}
	for w := range workers {
		b.wait.Add(1)
		go func() {
			defer b.wait.Done()
			t := &b.toks[w]
			for i := w * n / workers; i < (w+1)*n/workers; i++ {
				r := &b.recs[i]
				b.committees[i] = r.Committee
				if r.Committee == "" && (r.Lat != 0 || r.Long != 0) {
					if u, ok := net.CommitteeAt(r.Lat, r.Long); ok {
						b.committees[i] = u.ID
					}
				}
				b.words[i] = t.tokens(r.Description, b.words[i][:0])
			}
		}()
	}
}

func (g *Grouper) ticketID(r *record) string {
	return string(g.ids[r.idOff : r.idOff+uint32(r.idLen)])
}

func hash64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// examples keeps a few descriptions for the drafts' examples without
// keeping every description. Groups are only known in Result, so Add keeps,
// for every (category, word), the descriptions of the k records with the
// smallest hash of their ticket id (a bottom-k sample: the same records
// whatever order they arrive in). A group's distinctive words are rare
// outside it, so their samples are mostly its own tickets; Result picks
// the examples among the group's sampled members. Memory is bounded by k ×
// the distinct (category, word) pairs, not by the number of records.
type examples struct {
	k       int
	buckets map[uint64]int32 // category<<32 | word → bucket index
	slots   []slot           // bucket b is slots[b*k : b*k+k], smallest hash first
	descs   map[int32]*kept  // record index → description
}

type slot struct {
	hash uint64
	rec  int32 // -1 when empty
}

type kept struct {
	text string
	refs int32
}

func (e *examples) init(k int) {
	e.k = k
	e.buckets = map[uint64]int32{}
	e.descs = map[int32]*kept{}
}

func (e *examples) offer(rec int32, cat uint16, words []uint32, h uint64, text string) {
	if text == "" {
		return
	}
	for _, w := range words {
		key := uint64(cat)<<32 | uint64(w)
		b, ok := e.buckets[key]
		if !ok {
			b = int32(len(e.slots) / e.k)
			e.buckets[key] = b
			for range e.k {
				e.slots = append(e.slots, slot{rec: -1})
			}
		}
		s := e.slots[int(b)*e.k : int(b+1)*e.k]
		last := &s[e.k-1]
		if last.rec >= 0 && last.hash <= h {
			continue
		}
		if last.rec >= 0 {
			e.release(last.rec)
		}
		// Insert (h, rec) in hash order, dropping the largest.
		i := e.k - 1
		for i > 0 && (s[i-1].rec < 0 || s[i-1].hash > h) {
			s[i] = s[i-1]
			i--
		}
		s[i] = slot{hash: h, rec: rec}
		if d := e.descs[rec]; d != nil {
			d.refs++
		} else {
			e.descs[rec] = &kept{text: text, refs: 1}
		}
	}
}

func (e *examples) release(rec int32) {
	if d := e.descs[rec]; d != nil {
		if d.refs--; d.refs <= 0 {
			delete(e.descs, rec)
		}
	}
}

// shanghai is China Standard Time. A fixed zone rather than the tz
// database: China has kept UTC+8 without daylight saving since 1991, and a
// binary copied to a bare machine may have no zoneinfo.
var shanghai = time.FixedZone("CST", 8*3600)

// monthNumber counts months since year 0 in Shanghai time.
func monthNumber(t time.Time) int {
	t = t.In(shanghai)
	return t.Year()*12 + int(t.Month()) - 1
}
