// Package needgen generates histories of need records whose true groups
// are known, for package grouping's tests and benchmark and for the
// end-to-end benchmark of the grouping job (bench/grouping): needs that
// recur over months in given committees, each told in several phrasings
// with the noise of real calls (greetings, names, door and phone numbers,
// complaints about waiting), some in English, plus one-off tickets about
// nothing in particular. The same seed gives the same records.
package needgen

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/caojiadu/hotline"
	"github.com/go-ego/gse"
)

// Need is one true group. A ticket of it says the need one of several
// ways (Says), often with a detail of this need (Details), often with
// circumstances any need may come with (the shared pool), and with names,
// door and phone numbers ({name} {addr} {phone} {n} are filled in).
type Need struct {
	Name       string
	Code       string
	Committees []string
	Says       []string
	Details    []string
	EN         []string // English tickets, whole
	ENShare    float64  // share of tickets told in English
	PerMonth   int      // mean tickets a month
	Residents  int      // how many residents report it
}

// Shanghai is China Standard Time (UTC+8 all year).
var Shanghai = time.FixedZone("CST", 8*3600)

// HandNeeds are fourteen hand-written needs over the demo network.
// Corridor lights, street lights and lifts share a category and a
// committee (c01) but are different needs, and so are leaking taps and
// blocked drains (c07); the lights of the west (c01) and of the east (c09, c14, 1.7 km
// away) are the same words in far-apart places.
func HandNeeds() []Need {
	lights := []string{"楼道灯坏了", "我们这栋楼的楼梯灯不亮了", "声控灯坏掉好几天了", "楼道里的灯一直不亮", "楼道灯又坏了，上次修好没多久", "走廊灯不亮"}
	lightDetails := []string{"晚上上下楼黑乎乎的", "晚上回家要摸黑", "{name}昨天晚上摔了一跤", "请派电工来换一下", "{addr}"}
	lightsEN := []string{
		"The stairwell light in building {n} is broken again, it is dark at night",
		"Corridor lights not working on our floor for a week, please fix. {phone}",
	}
	return []Need{
		{Name: "meals-west", Code: "elderly_meals", Committees: []string{"c01", "c05"}, PerMonth: 6, Residents: 25, ENShare: 0.1,
			Says: []string{"独居老人腿脚不便，希望能上门送餐", "家里老人一个人住，做饭困难，能不能每天送饭上门", "想给{name}申请助餐服务，老人独居没人做饭",
				"社区能不能安排送餐，老人八十多岁一个人在家吃饭成问题", "想问问有没有上门送餐，{name}独居"},
			Details: []string{"最近生病了没法做饭", "子女都在外地", "中午一顿就行", "愿意自己付一部分钱", "{addr}"},
			EN: []string{
				"My elderly mother lives alone at {addrEN} and cannot cook, can you deliver meals?",
				"Meal delivery needed for an old man living alone, call {phone}",
			}},
		{Name: "lights-west", Code: "facilities", Committees: []string{"c01"}, PerMonth: 4, Residents: 20, ENShare: 0.1, Says: lights, Details: lightDetails, EN: lightsEN},
		{Name: "lift-west", Code: "facilities", Committees: []string{"c01"}, PerMonth: 4, Residents: 18, ENShare: 0.1,
			Says:    []string{"电梯又坏了", "电梯故障停运", "我们楼电梯经常出故障，修了几次还是不行", "电梯门关不上，一直在报警", "电梯停了三天了"},
			Details: []string{"{name}被困在里面半个小时", "住高层的老人下不了楼", "买菜都要爬十几层楼", "维保单位一直不来", "{addr}"},
			EN: []string{
				"The lift in our building is out of order again, {name} is stuck at home",
				"Elevator broken for three days, old people cannot go downstairs",
			}},
		{Name: "streetlights-west", Code: "facilities", Committees: []string{"c01"}, PerMonth: 3, Residents: 15,
			Says:    []string{"小区路灯不亮了", "门口的路灯坏了好几天", "弄堂里的路灯一闪一闪的", "路灯灯泡坏了没人换"},
			Details: []string{"晚上走路不安全", "电动车进出看不清", "上次有人在那里被绊倒", "{addr}"}},
		{Name: "lights-east", Code: "facilities", Committees: []string{"c09", "c14"}, PerMonth: 4, Residents: 20, ENShare: 0.1, Says: lights, Details: lightDetails, EN: lightsEN},
		{Name: "tap-leak", Code: "home_repair", Committees: []string{"c07"}, PerMonth: 4, Residents: 20, ENShare: 0.1,
			Says:    []string{"厨房水龙头漏水，需要师傅上门修理", "卫生间水龙头关不紧，一直滴水", "水龙头坏了漏水", "家里的水龙头漏水，能不能派维修队来看看"},
			Details: []string{"水费涨了很多", "{name}不会修", "晚上滴答滴答睡不着", "{addr}"},
			EN: []string{
				"Kitchen tap leaking for days, need someone to repair it. {phone}",
				"The bathroom tap keeps dripping, please send a repair volunteer",
			}},
		{Name: "drain", Code: "home_repair", Committees: []string{"c07"}, PerMonth: 3, Residents: 15,
			Says:    []string{"下水道堵了，厨房的水下不去", "卫生间下水不通，返臭味", "马桶堵塞，需要师傅上门疏通", "水槽堵住了，自己通不了"},
			Details: []string{"楼下也受影响", "{name}年纪大了弄不动", "用了管道疏通剂也没用", "{addr}"}},
		{Name: "noise", Code: "dispute", Committees: []string{"c08", "c13"}, PerMonth: 3, Residents: 15, ENShare: 0.1,
			Says:    []string{"楼上邻居半夜噪音太大，吵得睡不着", "隔壁装修噪音扰民", "楼上每天晚上很吵，跟邻居沟通没用", "楼下棋牌室噪音扰民到深夜"},
			Details: []string{"早上七点就开始敲", "希望居委会出面调解", "{name}心脏不好受不了", "{addr}"},
			EN: []string{
				"Neighbours upstairs are very noisy every night, we cannot sleep",
			}},
		{Name: "rubbish", Code: "sanitation", Committees: []string{"c11", "c06"}, PerMonth: 4, Residents: 20,
			Says:    []string{"楼道里堆满杂物，有异味", "垃圾桶满了没人清理，很臭", "楼下垃圾乱堆放", "家门口堆物很多，垃圾发臭"},
			Details: []string{"夏天招老鼠", "影响通行", "消防通道都堵了", "{addr}"}},
		{Name: "visits", Code: "elderly_visit", Committees: []string{"c12"}, PerMonth: 3, Residents: 15,
			Says:    []string{"独居老人希望志愿者定期上门探访", "{name}一个人住，希望有人上门看望", "老人独居很孤单，想请志愿者来陪伴聊天", "家里老人独居，能不能安排探访"},
			Details: []string{"子女在外地", "陪着聊聊天就好", "每周来一次", "{phone}"}},
		{Name: "after-school", Code: "youth", Committees: []string{"c04", "c03"}, PerMonth: 3, Residents: 20,
			Says:    []string{"孩子放学后没人照看，想问有没有课后托管", "双职工家庭，希望社区办暑托班", "想给孩子报名课后托管班", "小学生放学早，家长接不了，需要托管"},
			Details: []string{"下午三点半就放学", "还有没有名额", "收费能不能便宜点", "{phone}"}},
		{Name: "medicine", Code: "health", Committees: []string{"c10"}, PerMonth: 3, Residents: 12,
			Says:    []string{"老人慢病每个月要配药，能不能帮忙代配药", "{name}去不了医院配药，希望有人代配药", "能不能让家庭医生开药后送上门", "长期吃降压药，每次配药要排很久的队"},
			Details: []string{"行动不便", "每个月都要跑一次医院", "医院人太多", "{addr}"}},
		{Name: "wheelchair", Code: "disability", Committees: []string{"c14"}, PerMonth: 2, Residents: 10,
			Says:    []string{"想租借轮椅", "残疾人出行不便，轮椅坏了需要维修", "能不能借一辆轮椅用几个月", "需要轮椅，想问助残服务社有没有可以借的"},
			Details: []string{"家里老人腿摔伤了", "去医院复查要用", "{name}行动不便", "{phone}"}},
		{Name: "allowance", Code: "policy", Committees: []string{"c02"}, PerMonth: 3, Residents: 15,
			Says:    []string{"想咨询低保怎么申请", "家里生活困难，问一下能不能办低保", "低保申请交上去很久了，一直没有消息", "想了解低保政策"},
			Details: []string{"需要什么材料", "{name}失业了", "家里有病人", "{phone}"}},
	}
}

// circumstances come with any need: their words are common across needs.
var circumstances = []string{"老人出门不方便", "已经好几天了", "打了好几次电话", "家里老人腿脚不好", "物业也不管", "希望社区重视",
	"等了一个星期了", "身体不太好", "住了三十多年了", "上班的人早出晚归", "天天都这样", "实在没办法了", "邻居们都有意见", "以前也反映过",
	"孩子要上学", "年纪大了", "不知道找谁", "麻烦尽快安排"}

var (
	prefixes = []string{"", "", "", "您好，", "喂，我想反映一下，", "麻烦你们，", "又来反映了，", "请问，"}
	suffixes = []string{"", "", "", "，谢谢", "，请尽快处理", "，已经好几天了", "，希望能尽快解决", "。"}
	roads    = []string{"长寿路", "宜昌路", "余姚路", "叶家宅路", "康定路", "昌化路", "武宁路", "江宁路", "胶州路", "西康路", "万航渡路", "长宁支路"}
	roadsEN  = []string{"Changshou Road", "Yichang Road", "Yuyao Road", "Kangding Road", "Jiaozhou Road"}
	// TitlesZH and FamilyZH make the Chinese names of the tickets: a
	// surname before a form of address (tests look for them in drafts).
	TitlesZH = []string{"阿姨", "师傅", "老师", "先生", "女士", "大爷", "奶奶"}
	FamilyZH = []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁")
	namesEN  = []string{"Mr Smith", "Mrs Brown", "Ms Lee", "Mr Wang", "Miss Taylor"}
)

// fill replaces the placeholders of a phrasing with random noise.
func fill(rng *rand.Rand, s string) string {
	name, pre, suf := nameZH(rng), prefixes[rng.IntN(len(prefixes))], suffixes[rng.IntN(len(suffixes))]
	if isEnglish(s) {
		name, pre, suf = namesEN[rng.IntN(len(namesEN))], "", ""
	}
	r := strings.NewReplacer(
		"{pre}", pre,
		"{suf}", suf,
		"{name}", name,
		"{addr}", fmt.Sprintf("%s%d弄%d号%d室", roads[rng.IntN(len(roads))], 1+rng.IntN(400), 1+rng.IntN(60), 101+rng.IntN(600)),
		"{addrEN}", fmt.Sprintf("No. %d %s, Flat %d", 1+rng.IntN(400), roadsEN[rng.IntN(len(roadsEN))], 1+rng.IntN(30)),
		"{phone}", phone(rng, isEnglish(s)),
		"{n}", strconv.Itoa(1+rng.IntN(40)),
	)
	return r.Replace(s)
}

func nameZH(rng *rand.Rand) string {
	return string(FamilyZH[rng.IntN(len(FamilyZH))]) + TitlesZH[rng.IntN(len(TitlesZH))]
}

func phone(rng *rand.Rand, english bool) string {
	label := "联系电话"
	if english {
		label = "tel "
	}
	switch rng.IntN(3) {
	case 0:
		return fmt.Sprintf("%s%d%08d", label, 135+rng.IntN(5), rng.IntN(100000000))
	case 1:
		return fmt.Sprintf("+86 13%d %04d %04d", rng.IntN(10), rng.IntN(10000), rng.IntN(10000))
	}
	return fmt.Sprintf("021-6%07d", rng.IntN(10000000))
}

func isEnglish(s string) bool { return utf8.RuneCountInString(s) == len(s) }

// History is a generated window of records and, per ticket, its true
// group ("" for a one-off).
type History struct {
	From, To time.Time
	Records  []hotline.NeedRecord
	Truth    map[string]string
}

// Gen holds the state of one generation. Records go to Sink when set
// (the benchmarks stream a million of them), else into its History.
type Gen struct {
	Sink func(r hotline.NeedRecord, truth string)

	rng      *rand.Rand
	from     time.Time
	months   int
	next     int
	h        *History
	statuses []hotline.Status
}

// New starts a generation of months months from from, seeded with seed.
func New(seed uint64, from time.Time, months int) *Gen {
	return &Gen{
		rng:    rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		from:   from,
		months: months,
		h:      &History{From: from, To: from.AddDate(0, months, 0), Truth: map[string]string{}},
		statuses: []hotline.Status{hotline.StatusResolved, hotline.StatusResolved, hotline.StatusResolved,
			hotline.StatusClosed, hotline.StatusClosed, hotline.StatusInProgress, hotline.StatusRouted, hotline.StatusAccepted},
	}
}

// History is what the generation made so far (nothing of what went to
// Sink).
func (g *Gen) History() *History { return g.h }

// ticket makes one record.
func (g *Gen) ticket(truth, code, committee, desc, resident string, month int) {
	g.next++
	id := hotline.TicketIDWithCheck(strconv.Itoa(100000 + g.next))
	start := g.from.AddDate(0, month, 0)
	span := start.AddDate(0, 1, 0).Sub(start)
	at := start.Add(time.Duration(g.rng.Int64N(int64(span))))
	r := hotline.NeedRecord{
		TicketID:    id,
		ServiceCode: code,
		Description: desc,
		Committee:   committee,
		CreatedAt:   at,
		ResidentKey: resident,
		Status:      g.statuses[g.rng.IntN(len(g.statuses))],
		Tier:        hotline.TierCommittee,
	}
	if isEnglish(desc) {
		r.Language = "en"
	}
	if g.rng.IntN(8) == 0 {
		r.Escalations = 1
		r.Tier = hotline.TierStreet
	}
	if g.rng.IntN(12) == 0 {
		r.Overdue = true
	}
	if r.Status == hotline.StatusResolved || r.Status == hotline.StatusClosed {
		if g.rng.IntN(2) == 0 {
			r.Satisfaction = 3 + g.rng.IntN(3)
		}
		r.ResolvedAt = at.Add(48 * time.Hour)
	}
	if g.Sink != nil {
		g.Sink(r, truth)
		return
	}
	g.h.Records = append(g.h.Records, r)
	g.h.Truth[id] = truth
}

// Needs adds every month's tickets of each need.
func (g *Gen) Needs(ns []Need) {
	for _, n := range ns {
		for m := range g.months {
			k := n.PerMonth + g.rng.IntN(n.PerMonth+1) - n.PerMonth/2
			for range k {
				res := fmt.Sprintf("%s-r%d", n.Name, g.rng.IntN(n.Residents))
				if g.rng.IntN(10) == 0 {
					res = "" // unknown number
				}
				g.ticket(n.Name, n.Code, n.Committees[g.rng.IntN(len(n.Committees))], g.say(n), res, m)
			}
		}
	}
}

// say writes one ticket of need n.
func (g *Gen) say(n Need) string {
	if len(n.EN) > 0 && g.rng.Float64() < n.ENShare {
		return fill(g.rng, n.EN[g.rng.IntN(len(n.EN))])
	}
	parts := []string{n.Says[g.rng.IntN(len(n.Says))]}
	if g.rng.IntN(2) == 0 {
		parts = append(parts, n.Details[g.rng.IntN(len(n.Details))])
	}
	for range g.rng.IntN(3) {
		parts = append(parts, circumstances[g.rng.IntN(len(circumstances))])
	}
	if g.rng.IntN(3) == 0 {
		parts = append(parts, "{phone}")
	}
	// The need is not always said first.
	if len(parts) > 1 && g.rng.IntN(3) == 0 {
		i := 1 + g.rng.IntN(len(parts)-1)
		parts[0], parts[i] = parts[i], parts[0]
	}
	return fill(g.rng, "{pre}"+strings.Join(parts, "，")+"{suf}")
}

// Duplicates adds, for every k-th ticket so far, a duplicate merged into
// it: the same words, the same resident, a later time.
func (g *Gen) Duplicates(k int) {
	n := len(g.h.Records)
	for i := 0; i < n; i += k {
		orig := g.h.Records[i]
		g.next++
		d := orig
		d.TicketID = hotline.TicketIDWithCheck(strconv.Itoa(100000 + g.next))
		d.CreatedAt = orig.CreatedAt.Add(10 * time.Minute)
		d.MergedInto = orig.TicketID
		g.h.Records = append(g.h.Records, d)
	}
}

// NoiseWords is a bank of everyday Chinese words of middling rarity from
// gse's embedded idf table (2 or 3 Han characters, none of them a word the
// grouping knows as a need), for one-off tickets that are about nothing
// in particular.
func NoiseWords(n int) []string {
	var out []string
	for line := range strings.Lines(gse.ZhIdf) {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		idf, err := strconv.ParseFloat(f[1], 64)
		if err != nil || idf < 7 || idf > 10 {
			continue
		}
		w := f[0]
		if c := utf8.RuneCountInString(w); c < 2 || c > 3 || !allHan(w) {
			continue
		}
		out = append(out, w)
		if len(out) == n {
			break
		}
	}
	return out
}

func allHan(s string) bool {
	for _, r := range s {
		if r < 0x4e00 || r > 0x9fff {
			return false
		}
	}
	return true
}

// Noise adds n one-off tickets in random categories and committees, each
// a few random words with the usual greetings and numbers around them.
func (g *Gen) Noise(n int, bank []string, codes, committees []string) {
	for range n {
		var b strings.Builder
		b.WriteString(prefixes[g.rng.IntN(len(prefixes))])
		for range 5 + g.rng.IntN(4) {
			b.WriteString(bank[g.rng.IntN(len(bank))])
			if g.rng.IntN(3) == 0 {
				b.WriteString("，")
			}
		}
		if g.rng.IntN(3) == 0 {
			b.WriteString("，" + phone(g.rng, false))
		}
		g.next++
		res := fmt.Sprintf("noise-r%d", g.next)
		g.ticket("", codes[g.rng.IntN(len(codes))], committees[g.rng.IntN(len(committees))], b.String(), res, g.rng.IntN(g.months))
	}
}

// synthNeeds makes n needs of four key words each, for the benchmark: no
// two needs share a key word (keys holds at least 4n words), so each is a
// need of its own; a ticket says two or three of its need's keys among
// filler words.
func synthNeeds(rng *rand.Rand, n int, keys []string, codes, committees []string) []synthNeed {
	out := make([]synthNeed, n)
	for i := range out {
		s := &out[i]
		s.name = fmt.Sprintf("synth-%d", i)
		s.code = codes[rng.IntN(len(codes))]
		s.committee = committees[rng.IntN(len(committees))]
		s.keys = keys[4*i : 4*i+4]
	}
	return out
}

type synthNeed struct {
	name, code, committee string
	keys                  []string
}

// synth adds k tickets of need s spread over the window, with filler
// words from bank.
func (g *Gen) synth(s synthNeed, k int, bank []string) {
	for range k {
		var b strings.Builder
		b.WriteString(prefixes[g.rng.IntN(len(prefixes))])
		perm := g.rng.Perm(len(s.keys))
		for _, j := range perm[:2+g.rng.IntN(2)] {
			b.WriteString(s.keys[j])
			if g.rng.IntN(2) == 0 {
				b.WriteString(bank[g.rng.IntN(len(bank))])
			}
		}
		b.WriteString(suffixes[g.rng.IntN(len(suffixes))])
		res := fmt.Sprintf("%s-r%d", s.name, g.rng.IntN(40))
		g.ticket(s.name, s.code, s.committee, b.String(), res, g.rng.IntN(g.months))
	}
}

// PairScores compares a found grouping with the truth, over pairs of
// tickets: precision is the share of pairs put together that belong
// together, recall the share of pairs that belong together that were put
// together. found maps a ticket to its group; tickets in no found group
// are alone. A one-off ("" truth) belongs with nothing.
func PairScores(truth map[string]string, found map[string]int) (precision, recall float64) {
	type cell struct {
		t string
		f int
	}
	cells := map[cell]int{}
	trueSize := map[string]int{}
	foundSize := map[int]int{}
	alone := -1
	for id, t := range truth {
		f, ok := found[id]
		if !ok {
			f = alone
			alone--
		}
		if t == "" {
			t = "one-off:" + id
		}
		cells[cell{t, f}]++
		trueSize[t]++
		foundSize[f]++
	}
	pairs := func(n int) float64 { return float64(n) * float64(n-1) / 2 }
	var both, truePairs, foundPairs float64
	for _, n := range cells {
		both += pairs(n)
	}
	for _, n := range trueSize {
		truePairs += pairs(n)
	}
	for _, n := range foundSize {
		foundPairs += pairs(n)
	}
	return both / max(foundPairs, 1), both / max(truePairs, 1)
}

// Size says how big a generated history is: Records in all, of which
// Noise one-off tickets and Synth synthetic needs, the hand-written needs
// Scale times as frequent as in the tests.
type Size struct {
	Records, Noise, Synth, Scale int
}

// Size1M is a year of a city-sized hotline on the demo street's network:
// 1,000,000 records, of which about 24,000 are the fourteen hand-written
// needs (40 times as often), 876,000 are 2,000 synthetic needs (four key
// words each, a ticket saying two or three of them among filler words)
// and 100,000 are one-off tickets of five to eight random words out of
// 24,000. The words are real ones taken from gse's idf table, all of
// middling rarity: a flat vocabulary with no very common words is the
// hard case for the word index.
var Size1M = Size{Records: 1_000_000, Noise: 100_000, Synth: 2_000, Scale: 40}

// Window is the window of Generate's histories: the year 2026 on the
// Shanghai clock.
func Window() (from, to time.Time) {
	from = time.Date(2026, 1, 1, 0, 0, 0, 0, Shanghai)
	return from, from.AddDate(1, 0, 0)
}

// Generate streams the records of a history of the given size to sink,
// the same ones every call, and returns how many it made and the window.
func Generate(size Size, sink func(r hotline.NeedRecord, truth string)) (int, time.Time, time.Time) {
	from, _ := Window()
	g := New(42, from, 12)
	n := 0
	g.Sink = func(r hotline.NeedRecord, truth string) { n++; sink(r, truth) }

	hand := HandNeeds()
	for i := range hand {
		hand[i].PerMonth *= size.Scale
		hand[i].Residents *= size.Scale
	}
	g.Needs(hand)

	// 32,000 words: four keys for each synthetic need, 3,000 fillers, and
	// the rest for one-off tickets, which also use fillers.
	bank := NoiseWords(32000)
	g.rng.Shuffle(len(bank), func(i, j int) { bank[i], bank[j] = bank[j], bank[i] })
	keys, fillers, rare := bank[:4*size.Synth], bank[4*size.Synth:4*size.Synth+3000], bank[4*size.Synth:]
	codes := []string{"elderly_meals", "elderly_visit", "home_repair", "facilities", "sanitation", "dispute", "policy",
		"legal", "counselling", "disability", "youth", "building_safety", "health", "other"}
	var committees []string
	for i := 1; i <= 14; i++ {
		committees = append(committees, "c"+twoDigits(i))
	}
	synth := synthNeeds(g.rng, size.Synth, keys, codes, committees)
	per := (size.Records - size.Noise - n) / size.Synth
	for _, s := range synth {
		g.synth(s, per, fillers)
	}
	g.Noise(size.Records-n, rare, codes, committees) // the rest, about size.Noise
	return n, g.h.From, g.h.To
}

func twoDigits(i int) string { return string(rune('0'+i/10)) + string(rune('0'+i%10)) }

// Truth is the true group of every ticket of a streamed history, kept
// small enough for a million tickets: a label per ticket number instead of
// a map of a million strings. Ticket numbers need not be consecutive (the
// generator skips some).
type Truth struct {
	labels []int32 // by ticket number − base: a group, oneOff, or none
	names  map[string]int32
}

const (
	base   = 100001 // the generator's first ticket number
	oneOff = -1     // a ticket that belongs with nothing
	none   = -2     // no ticket of that number
)

// number returns the index of ticket id in labels: its number without
// the check digit, less base.
func number(id string) (int, bool) {
	if len(id) < 2 {
		return 0, false
	}
	x, err := strconv.Atoi(id[:len(id)-1])
	if err != nil || x < base {
		return 0, false
	}
	return x - base, true
}

// Add records ticket id's true group ("" for a one-off).
func (t *Truth) Add(id, group string) {
	i, ok := number(id)
	if !ok {
		panic("needgen: not a generated ticket id: " + id)
	}
	for len(t.labels) <= i {
		t.labels = append(t.labels, none)
	}
	label := int32(oneOff)
	if group != "" {
		if t.names == nil {
			t.names = map[string]int32{}
		}
		x, ok := t.names[group]
		if !ok {
			x = int32(len(t.names))
			t.names[group] = x
		}
		label = x
	}
	t.labels[i] = label
}

// Tickets is how many tickets were added.
func (t *Truth) Tickets() int {
	n := 0
	for _, l := range t.labels {
		if l != none {
			n++
		}
	}
	return n
}

// Scores is PairScores over Truth for the drafts of a grouping: a ticket
// in no draft is alone. oneOffDrafts counts the drafts made mostly of
// one-off tickets; foreign counts the drafts' ticket ids Truth does not
// know (none, when the drafts come from the same history).
func (t *Truth) Scores(drafts []*hotline.Project) (precision, recall float64, oneOffDrafts, foreign int) {
	found := make([]int32, len(t.labels))
	for i := range found {
		found[i] = -1
	}
	for di, d := range drafts {
		ones := 0
		for _, id := range d.Evidence.TicketIDs {
			i, ok := number(id)
			if !ok || i >= len(t.labels) || t.labels[i] == none {
				foreign++
				continue
			}
			found[i] = int32(di)
			if t.labels[i] == oneOff {
				ones++
			}
		}
		if 2*ones > len(d.Evidence.TicketIDs) {
			oneOffDrafts++
		}
	}
	type cell struct{ t, f int64 }
	cells := map[cell]int{}
	trueSize := map[int64]int{}
	foundSize := map[int64]int{}
	for i, l := range t.labels {
		if l == none {
			continue
		}
		tt, ff := int64(l), int64(found[i])
		if l == oneOff {
			tt = -1 - int64(i) // a one-off is alone
		}
		if ff < 0 {
			ff = -1 - int64(i)
		}
		cells[cell{tt, ff}]++
		trueSize[tt]++
		foundSize[ff]++
	}
	pairs := func(n int) float64 { return float64(n) * float64(n-1) / 2 }
	var both, tp, fp float64
	for _, n := range cells {
		both += pairs(n)
	}
	for _, n := range trueSize {
		tp += pairs(n)
	}
	for _, n := range foundSize {
		fp += pairs(n)
	}
	return both / max(fp, 1), both / max(tp, 1), oneOffDrafts, foreign
}
