package volunteers

import (
	"cmp"
	"context"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/dispatch"
)

// CategoryQualifications says which professional qualifications serve a
// catalogue category even without the skill: a lawyer serves legal advice.
// A volunteer who holds one of a category's qualifications only when it
// has expired is not offered the category's tickets, skill or not: an
// expired licence is a reason to hold back, not a detail.
var CategoryQualifications = map[string][]string{
	"legal":       {"lawyer"},
	"dispute":     {"lawyer", "social_worker"},
	"counselling": {"counsellor", "social_worker"},
	"health":      {"nurse", "doctor"},
	"disability":  {"social_worker", "nurse", "sign_interpreter"},
	"home_repair": {"electrician", "plumber"},
}

// Suggestion is a volunteer matching proposes for a ticket.
type Suggestion struct {
	Volunteer *hotline.Volunteer `json:"volunteer"`
	Distance  float64            `json:"distance"` // metres from the resident
	Load      int                `json:"load"`     // open tasks now
	// Qualification is the valid qualification that qualifies them for the
	// category ("" when none does).
	Qualification string `json:"qualification,omitempty"`
	// Score orders the suggestions, higher first (see Match).
	Score float64 `json:"score"`
	// Reason is shown to staff, Chinese then English: "距居民 320 米，空闲，
	// 擅长「法律咨询」，持有效律师资格 / 320 m away, free, skilled in Legal
	// advice, valid lawyer qualification".
	Reason string `json:"reason"`
}

// Why a volunteer found near the resident is not suggested.
const (
	ExcludedExpired     = "qualification_expired" // only an expired qualification of the category
	ExcludedUnavailable = "unavailable"           // outside their availability at the time
	ExcludedLanguage    = "language"              // does not speak the resident's language
	ExcludedBusy        = "busy"                  // open tasks at their maximum
	ExcludedStatus      = "status"                // not approved or active (a stale index)
)

// Exclusion is a volunteer passed over, and why (one of Excluded…).
type Exclusion struct {
	VolunteerID string `json:"volunteer_id"`
	Why         string `json:"why"`
}

// MatchResult is matching's full answer: the suggestions and the
// volunteers found near the resident but passed over.
type MatchResult struct {
	Suggestions []Suggestion `json:"suggestions"`
	Excluded    []Exclusion  `json:"excluded,omitempty"`
	// Radius is how far the search went, in metres.
	Radius float64 `json:"radius"`
}

// Match suggests up to limit volunteers who can serve t at the time at
// (now, or a time the resident gave). See MatchDetail.
func (s *Service) Match(ctx context.Context, t *hotline.Ticket, at time.Time, limit int) ([]Suggestion, error) {
	r, err := s.MatchDetail(ctx, t, at, limit)
	return r.Suggestions, err
}

// Search geometry: the first circle is small (GEOSEARCH walks every member
// inside the radius before it sorts, so a circle sized to the answer is
// cheap on a dense registry), and grows fourfold until enough volunteers
// pass or the Service's Radius is reached. firstCount members per set are
// read at first, four times more each time a page was full yet too few
// passed, up to maxCount.
const (
	firstRadius = 250.0
	firstCount  = 32
	maxCount    = 1024
	// distanceStep makes distances within the same 100 m (a minute's
	// walk) equal for ranking, so that load and qualification decide
	// between neighbours.
	distanceStep = 100.0
	defaultLimit = 5
	maxLimit     = 50
)

// MatchDetail suggests up to limit (0: 5, at most 50) volunteers for t at
// time at, and says who was passed over and why. The rules:
//
//   - status approved or active (the store indexes only those);
//   - the skill of t's category, or a valid qualification the category
//     needs (CategoryQualifications); holding only expired ones of those
//     excludes (ExcludedExpired);
//   - available at at (their weekly Availability, on Shanghai's clock);
//   - within the Service's Radius of the resident (their point, else
//     their committee's office), by the store's GEO search;
//   - open tasks below their MaxTasks (else the Service's);
//   - speaking the resident's language (t.Language, "zh" when empty);
//     for a language other than hotline.CommonLanguage only its speakers
//     are searched (hotline.LanguageSkill), so those who do not speak it
//     are not listed as excluded for it.
//
// Ranked by distance (in steps of 100 m), then load, then a valid
// qualification, then id. Errors: EINVALID (no location), EUNAVAILABLE.
func (s *Service) MatchDetail(ctx context.Context, t *hotline.Ticket, at time.Time, limit int) (MatchResult, error) {
	if limit <= 0 {
		limit = defaultLimit
	}
	limit = min(limit, maxLimit)
	n, cat := s.Directory.Network(), s.Directory.Catalogue()
	category, _ := cat.Find(t.ServiceCode)
	lat, long, ok := residentPoint(n, t)
	if !ok {
		return MatchResult{}, hotline.Errorf(hotline.EINVALID,
			"ticket %s has no location: give the resident's address or committee to find volunteers near them", t.ID)
	}
	lang := t.Language
	if lang == "" {
		lang = "zh"
	}
	quals := CategoryQualifications[t.ServiceCode]
	sets := []string{t.ServiceCode}
	for _, q := range quals {
		sets = append(sets, hotline.QualificationSkill(q))
	}
	if lang != hotline.CommonLanguage {
		// Only those who speak it: the store indexes them apart.
		for i, set := range sets {
			sets[i] = hotline.LanguageSkill(set, lang)
		}
	}
	full := s.Radius
	if full <= 0 {
		full = DefaultRadius
	}
	count := firstPage(lang, limit)
	radius := s.firstRadius(sets, full, count)
	for {
		found, saturated, err := s.search(ctx, sets, lat, long, radius, count)
		if err != nil {
			return MatchResult{}, err
		}
		res, err := s.weigh(ctx, found, t.ServiceCode, quals, lang, at)
		if err != nil {
			return MatchResult{}, err
		}
		learnPassRate(lang, len(res.Suggestions), len(found))
		res.Radius = radius
		switch {
		case len(res.Suggestions) >= limit || (radius >= full && (!saturated || count >= maxCount)):
			res.Suggestions = res.Suggestions[:min(limit, len(res.Suggestions))]
			if err := s.complete(ctx, &res); err != nil {
				return MatchResult{}, err
			}
			for i := range res.Suggestions {
				res.Suggestions[i].Reason = suggestionReason(category, lang, res.Suggestions[i])
			}
			return res, nil
		case saturated && count < maxCount:
			count *= 4
		default:
			radius = min(full, radius*4)
		}
	}
}

// complete replaces the suggestions' volunteers, which a nearbyAny store
// gives only in part, by the full records (one round trip). A volunteer
// gone meanwhile is dropped.
func (s *Service) complete(ctx context.Context, res *MatchResult) error {
	many, ok := s.Store.(nearbyAny)
	if !ok || len(res.Suggestions) == 0 {
		return nil
	}
	ids := make([]string, len(res.Suggestions))
	for i, sg := range res.Suggestions {
		ids[i] = sg.Volunteer.ID
	}
	full, err := many.VolunteersByID(ctx, ids)
	if err != nil {
		return err
	}
	byID := make(map[string]*hotline.Volunteer, len(full))
	for _, v := range full {
		byID[v.ID] = v
	}
	out := res.Suggestions[:0]
	for _, sg := range res.Suggestions {
		if v := byID[sg.Volunteer.ID]; v != nil {
			sg.Volunteer = v
			out = append(out, sg)
		}
	}
	res.Suggestions = out
	return nil
}

// residentPoint is where distances are measured from: the ticket's point,
// else its committee's office (by id, by the gazetteer).
func residentPoint(n *hotline.Network, t *hotline.Ticket) (lat, long float64, ok bool) {
	if t.Location.HasPoint() {
		return t.Location.Lat, t.Location.Long, true
	}
	u, found := n.Unit(t.Location.Committee)
	if !found && t.Location.Address != "" {
		u, found = n.CommitteeForAddress(t.Location.Address)
	}
	if !found || (u.Lat == 0 && u.Long == 0) {
		return 0, 0, false
	}
	return u.Lat, u.Long, true
}

// found is a volunteer one of the searches returned.
type found struct {
	v        *hotline.Volunteer
	distance float64
}

// nearbyAny is a store that searches several GEO sets in one round trip
// and answers with only the fields matching reads, then reads the chosen
// volunteers in full (redisstore's).
type nearbyAny interface {
	NearbyVolunteersAny(ctx context.Context, skills []string, lat, long, radius float64, count int) ([][]hotline.VolunteerDistance, error)
	VolunteersByID(ctx context.Context, ids []string) ([]*hotline.Volunteer, error)
}

// search runs the GEO search of every set (the skill, then each
// qualification) and merges what they found; saturated reports whether a
// set returned count members, so more may lie inside the radius.
func (s *Service) search(ctx context.Context, sets []string, lat, long, radius float64, count int) ([]found, bool, error) {
	var lists [][]hotline.VolunteerDistance
	if many, ok := s.Store.(nearbyAny); ok {
		var err error
		if lists, err = many.NearbyVolunteersAny(ctx, sets, lat, long, radius, count); err != nil {
			return nil, false, err
		}
	} else {
		for _, set := range sets {
			near, err := s.Store.NearbyVolunteers(ctx, set, lat, long, radius, count)
			if err != nil {
				return nil, false, err
			}
			lists = append(lists, near)
		}
	}
	var out []found
	seen := map[string]bool{}
	saturated := false
	for i, set := range sets {
		near := lists[i]
		saturated = saturated || len(near) >= count
		s.learnDensity(set, near, radius, count)
		for _, d := range near {
			if d.Volunteer == nil || seen[d.Volunteer.ID] {
				continue
			}
			seen[d.Volunteer.ID] = true
			out = append(out, found{d.Volunteer, d.Distance})
		}
	}
	return out, saturated, nil
}

// weigh applies the rules to what the searches found and ranks the rest.
func (s *Service) weigh(ctx context.Context, cands []found, skill string, quals []string, lang string, at time.Time) (MatchResult, error) {
	var res MatchResult
	type kept struct {
		found
		qual string
	}
	var keep []kept
	for _, c := range cands {
		v := c.v
		why, qual := "", ""
		hasSkill := slices.Contains(v.Skills, skill)
		held := false
		for _, q := range v.Qualifications {
			if slices.Contains(quals, q.Kind) {
				held = true
				if q.Valid(at) && qual == "" {
					qual = q.Kind
				}
			}
		}
		switch {
		case !v.Status.Matchable():
			why = ExcludedStatus
		case held && qual == "":
			why = ExcludedExpired
		case !hasSkill && qual == "":
			continue // found by a qualification index a step behind: not theirs
		case !slices.Contains(v.Languages, lang):
			why = ExcludedLanguage
		case !availableAt(v.Availability, at):
			why = ExcludedUnavailable
		}
		if why != "" {
			res.Excluded = append(res.Excluded, Exclusion{VolunteerID: v.ID, Why: why})
			continue
		}
		keep = append(keep, kept{c, qual})
	}
	loads := map[string]int{}
	if s.Assignments != nil && len(keep) > 0 {
		ids := make([]string, len(keep))
		for i, k := range keep {
			ids[i] = k.v.ID
		}
		var err error
		if loads, err = s.Assignments.OpenTasks(ctx, ids); err != nil {
			return MatchResult{}, err
		}
	}
	for _, k := range keep {
		limit := k.v.MaxTasks
		if limit <= 0 {
			limit = s.MaxTasks
		}
		if limit <= 0 {
			limit = DefaultMaxTasks
		}
		load := loads[k.v.ID]
		if load >= limit {
			res.Excluded = append(res.Excluded, Exclusion{VolunteerID: k.v.ID, Why: ExcludedBusy})
			continue
		}
		sg := Suggestion{Volunteer: k.v, Distance: k.distance, Load: load, Qualification: k.qual}
		sg.Score = score(sg)
		res.Suggestions = append(res.Suggestions, sg)
	}
	slices.SortFunc(res.Suggestions, func(a, b Suggestion) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.Volunteer.ID, b.Volunteer.ID)
	})
	return res, nil
}

// score is higher for a better suggestion: each 100 m step outweighs any
// load (at most 100 tasks), and one task outweighs a qualification.
func score(sg Suggestion) float64 {
	step := math.Floor(sg.Distance / distanceStep)
	q := 1.0
	if sg.Qualification != "" {
		q = 0
	}
	return -(step*10000 + float64(sg.Load)*10 + q)
}

// density is what matching has learnt of a GEO set: members per m²
// around the residents it searched for.
type density struct{ perM2 float64 }

// densities holds a density per set name. It is per process, not per
// Service: it only sizes the first search circle, so a stale or foreign
// estimate costs a wider search, never a different answer.
var densities sync.Map

// learnDensity notes how densely set is populated from one search: k
// members within the distance of the k-th when the page was full, else
// all members within the radius. The last estimate wins: a registry
// changes slowly, and one odd corner only sizes the next first circle.
func (s *Service) learnDensity(set string, near []hotline.VolunteerDistance, radius float64, count int) {
	var d float64
	switch {
	case len(near) >= count && count > 0:
		r := max(near[len(near)-1].Distance, 10)
		d = float64(len(near)) / (math.Pi * r * r)
	case radius > 0:
		d = float64(max(len(near), 1)) / (math.Pi * radius * radius)
	default:
		return
	}
	densities.Store(set, density{perM2: d})
}

// firstRadius is where a search starts: a circle expected to hold twice
// count members of the densest set searched, given what earlier
// searches learnt (firstRadius until they did), at least 50 m. GEOSEARCH
// visits every member of the geohash cells around the circle before it
// sorts and cuts, so on a city's registry a circle sized to one page is
// many times cheaper than a fixed one, and the answer is the same: the
// members inside are nearer than those outside.
func (s *Service) firstRadius(sets []string, full float64, count int) float64 {
	var dens float64
	for _, set := range sets {
		if v, ok := densities.Load(set); ok {
			dens = max(dens, v.(density).perM2)
		}
	}
	if dens <= 0 {
		return min(firstRadius, full)
	}
	r := math.Sqrt(2 * float64(count) / (math.Pi * dens))
	return max(50, min(full, r))
}

// passRates keeps, per resident language, the share of the volunteers a
// search found that passed every rule: few speak English, so an English
// ticket would otherwise read page after growing page. Like densities it
// only sizes the first search, never the answer.
var passRates sync.Map // language → float64

// learnPassRate folds one search's share (passed of found) into the
// language's estimate; searches that found too few to tell are ignored.
func learnPassRate(lang string, passed, found int) {
	if found < firstCount/2 {
		return
	}
	obs := max(float64(passed)/float64(found), 1.0/maxCount)
	if v, ok := passRates.Load(lang); ok {
		obs = 0.8*v.(float64) + 0.2*obs
	}
	passRates.Store(lang, obs)
}

// firstPage is how many members per set the first search reads: enough
// that, at the share expected to pass for lang, about twice limit are
// left (firstCount at least, maxCount at most).
func firstPage(lang string, limit int) int {
	v, ok := passRates.Load(lang)
	if !ok {
		return firstCount
	}
	want := int(math.Ceil(float64(2*limit) / v.(float64)))
	return max(firstCount, min(maxCount, want))
}

// hoursCache keeps parsed availabilities by their text: a registry
// repeats a few hundred of them. Bounded by dropping it whole.
var (
	hoursMu    sync.RWMutex
	hoursCache = map[string]*dispatch.Hours{}
)

const maxCachedHours = 10000

// availableAt reports whether availability includes at. Unreadable text
// (stored before a check, or edited by hand) counts as never: a volunteer
// is not sent out on a guess.
func availableAt(availability string, at time.Time) bool {
	hoursMu.RLock()
	h, ok := hoursCache[availability]
	hoursMu.RUnlock()
	if !ok {
		var err error
		if h, err = dispatch.ParseHours(availability); err != nil {
			return false
		}
		hoursMu.Lock()
		if len(hoursCache) >= maxCachedHours {
			hoursCache = map[string]*dispatch.Hours{}
		}
		hoursCache[availability] = h
		hoursMu.Unlock()
	}
	return h.Open(at)
}

func termName(terms []Term, code, lang string) string {
	for _, t := range terms {
		if t.Code == code {
			if lang == "en" {
				return t.NameEN
			}
			return t.NameZH
		}
	}
	return code
}

func metres(m float64, lang string) string {
	if m >= 1000 {
		km := strconv.FormatFloat(m/1000, 'f', 1, 64)
		if lang == "en" {
			return km + " km"
		}
		return km + " 公里"
	}
	d := strconv.FormatFloat(m, 'f', 0, 64)
	if lang == "en" {
		return d + " m"
	}
	return d + " 米"
}

// suggestionReason explains a suggestion, Chinese then English.
func suggestionReason(c hotline.Category, lang string, sg Suggestion) string {
	zh := []string{"距居民 " + metres(sg.Distance, "zh")}
	en := []string{metres(sg.Distance, "en") + " away"}
	if sg.Load == 0 {
		zh, en = append(zh, "空闲"), append(en, "free")
	} else {
		n := strconv.Itoa(sg.Load)
		zh = append(zh, "已有 "+n+" 项任务")
		if sg.Load == 1 {
			en = append(en, "1 open task")
		} else {
			en = append(en, n+" open tasks")
		}
	}
	if slices.Contains(sg.Volunteer.Skills, c.Code) {
		zh = append(zh, "擅长「"+cmp.Or(c.NameZH, c.Code)+"」")
		en = append(en, "skilled in "+cmp.Or(c.NameEN, c.Code))
	}
	if sg.Qualification != "" {
		zh = append(zh, "持有效"+termName(Qualifications, sg.Qualification, "zh")+"资格")
		en = append(en, "valid "+termName(Qualifications, sg.Qualification, "en")+" qualification")
	}
	zh = append(zh, "会说"+termName(Languages, lang, "zh"))
	en = append(en, "speaks "+termName(Languages, lang, "en"))
	return strings.Join(zh, "，") + " / " + strings.Join(en, ", ")
}
