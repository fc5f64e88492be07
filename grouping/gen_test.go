package grouping_test

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

// A generator of ticket histories whose true groups are known: needs that
// recur over months in given committees, each told in several phrasings
// with the noise of real calls (greetings, names, door and phone numbers,
// complaints about waiting), some in English, plus one-off tickets about
// nothing in particular.

// need is one true group. A ticket of it says the need one of several
// ways (says), often with a detail of this need (details), often with
// circumstances any need may come with (the shared pool), and with names,
// door and phone numbers ({name} {addr} {phone} {n} are filled in).
type need struct {
	name       string
	code       string
	committees []string
	says       []string
	details    []string
	en         []string // English tickets, whole
	enShare    float64  // share of tickets told in English
	perMonth   int      // mean tickets a month
	residents  int      // how many residents report it
}

// shanghai is China Standard Time (UTC+8 all year).
var shanghai = time.FixedZone("CST", 8*3600)

// handNeeds are fourteen hand-written needs over the demo network.
// Corridor lights, street lights and lifts share a category and a
// committee (c01) but are different needs, and so are leaking taps and
// blocked drains (c07); the lights of the west (c01) and of the east (c09, c14, 1.7 km
// away) are the same words in far-apart places.
func handNeeds() []need {
	lights := []string{"楼道灯坏了", "我们这栋楼的楼梯灯不亮了", "声控灯坏掉好几天了", "楼道里的灯一直不亮", "楼道灯又坏了，上次修好没多久", "走廊灯不亮"}
	lightDetails := []string{"晚上上下楼黑乎乎的", "晚上回家要摸黑", "{name}昨天晚上摔了一跤", "请派电工来换一下", "{addr}"}
	lightsEN := []string{
		"The stairwell light in building {n} is broken again, it is dark at night",
		"Corridor lights not working on our floor for a week, please fix. {phone}",
	}
	return []need{
		{name: "meals-west", code: "elderly_meals", committees: []string{"c01", "c05"}, perMonth: 6, residents: 25, enShare: 0.1,
			says: []string{"独居老人腿脚不便，希望能上门送餐", "家里老人一个人住，做饭困难，能不能每天送饭上门", "想给{name}申请助餐服务，老人独居没人做饭",
				"社区能不能安排送餐，老人八十多岁一个人在家吃饭成问题", "想问问有没有上门送餐，{name}独居"},
			details: []string{"最近生病了没法做饭", "子女都在外地", "中午一顿就行", "愿意自己付一部分钱", "{addr}"},
			en: []string{
				"My elderly mother lives alone at {addrEN} and cannot cook, can you deliver meals?",
				"Meal delivery needed for an old man living alone, call {phone}",
			}},
		{name: "lights-west", code: "facilities", committees: []string{"c01"}, perMonth: 4, residents: 20, enShare: 0.1, says: lights, details: lightDetails, en: lightsEN},
		{name: "lift-west", code: "facilities", committees: []string{"c01"}, perMonth: 4, residents: 18, enShare: 0.1,
			says:    []string{"电梯又坏了", "电梯故障停运", "我们楼电梯经常出故障，修了几次还是不行", "电梯门关不上，一直在报警", "电梯停了三天了"},
			details: []string{"{name}被困在里面半个小时", "住高层的老人下不了楼", "买菜都要爬十几层楼", "维保单位一直不来", "{addr}"},
			en: []string{
				"The lift in our building is out of order again, {name} is stuck at home",
				"Elevator broken for three days, old people cannot go downstairs",
			}},
		{name: "streetlights-west", code: "facilities", committees: []string{"c01"}, perMonth: 3, residents: 15,
			says:    []string{"小区路灯不亮了", "门口的路灯坏了好几天", "弄堂里的路灯一闪一闪的", "路灯灯泡坏了没人换"},
			details: []string{"晚上走路不安全", "电动车进出看不清", "上次有人在那里被绊倒", "{addr}"}},
		{name: "lights-east", code: "facilities", committees: []string{"c09", "c14"}, perMonth: 4, residents: 20, enShare: 0.1, says: lights, details: lightDetails, en: lightsEN},
		{name: "tap-leak", code: "home_repair", committees: []string{"c07"}, perMonth: 4, residents: 20, enShare: 0.1,
			says:    []string{"厨房水龙头漏水，需要师傅上门修理", "卫生间水龙头关不紧，一直滴水", "水龙头坏了漏水", "家里的水龙头漏水，能不能派维修队来看看"},
			details: []string{"水费涨了很多", "{name}不会修", "晚上滴答滴答睡不着", "{addr}"},
			en: []string{
				"Kitchen tap leaking for days, need someone to repair it. {phone}",
				"The bathroom tap keeps dripping, please send a repair volunteer",
			}},
		{name: "drain", code: "home_repair", committees: []string{"c07"}, perMonth: 3, residents: 15,
			says:    []string{"下水道堵了，厨房的水下不去", "卫生间下水不通，返臭味", "马桶堵塞，需要师傅上门疏通", "水槽堵住了，自己通不了"},
			details: []string{"楼下也受影响", "{name}年纪大了弄不动", "用了管道疏通剂也没用", "{addr}"}},
		{name: "noise", code: "dispute", committees: []string{"c08", "c13"}, perMonth: 3, residents: 15, enShare: 0.1,
			says:    []string{"楼上邻居半夜噪音太大，吵得睡不着", "隔壁装修噪音扰民", "楼上每天晚上很吵，跟邻居沟通没用", "楼下棋牌室噪音扰民到深夜"},
			details: []string{"早上七点就开始敲", "希望居委会出面调解", "{name}心脏不好受不了", "{addr}"},
			en: []string{
				"Neighbours upstairs are very noisy every night, we cannot sleep",
			}},
		{name: "rubbish", code: "sanitation", committees: []string{"c11", "c06"}, perMonth: 4, residents: 20,
			says:    []string{"楼道里堆满杂物，有异味", "垃圾桶满了没人清理，很臭", "楼下垃圾乱堆放", "家门口堆物很多，垃圾发臭"},
			details: []string{"夏天招老鼠", "影响通行", "消防通道都堵了", "{addr}"}},
		{name: "visits", code: "elderly_visit", committees: []string{"c12"}, perMonth: 3, residents: 15,
			says:    []string{"独居老人希望志愿者定期上门探访", "{name}一个人住，希望有人上门看望", "老人独居很孤单，想请志愿者来陪伴聊天", "家里老人独居，能不能安排探访"},
			details: []string{"子女在外地", "陪着聊聊天就好", "每周来一次", "{phone}"}},
		{name: "after-school", code: "youth", committees: []string{"c04", "c03"}, perMonth: 3, residents: 20,
			says:    []string{"孩子放学后没人照看，想问有没有课后托管", "双职工家庭，希望社区办暑托班", "想给孩子报名课后托管班", "小学生放学早，家长接不了，需要托管"},
			details: []string{"下午三点半就放学", "还有没有名额", "收费能不能便宜点", "{phone}"}},
		{name: "medicine", code: "health", committees: []string{"c10"}, perMonth: 3, residents: 12,
			says:    []string{"老人慢病每个月要配药，能不能帮忙代配药", "{name}去不了医院配药，希望有人代配药", "能不能让家庭医生开药后送上门", "长期吃降压药，每次配药要排很久的队"},
			details: []string{"行动不便", "每个月都要跑一次医院", "医院人太多", "{addr}"}},
		{name: "wheelchair", code: "disability", committees: []string{"c14"}, perMonth: 2, residents: 10,
			says:    []string{"想租借轮椅", "残疾人出行不便，轮椅坏了需要维修", "能不能借一辆轮椅用几个月", "需要轮椅，想问助残服务社有没有可以借的"},
			details: []string{"家里老人腿摔伤了", "去医院复查要用", "{name}行动不便", "{phone}"}},
		{name: "allowance", code: "policy", committees: []string{"c02"}, perMonth: 3, residents: 15,
			says:    []string{"想咨询低保怎么申请", "家里生活困难，问一下能不能办低保", "低保申请交上去很久了，一直没有消息", "想了解低保政策"},
			details: []string{"需要什么材料", "{name}失业了", "家里有病人", "{phone}"}},
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
	titlesZH = []string{"阿姨", "师傅", "老师", "先生", "女士", "大爷", "奶奶"}
	familyZH = []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁")
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
	return string(familyZH[rng.IntN(len(familyZH))]) + titlesZH[rng.IntN(len(titlesZH))]
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

// history is a generated window of records and, per ticket, its true
// group ("" for a one-off).
type history struct {
	from, to time.Time
	records  []hotline.NeedRecord
	truth    map[string]string
}

// gen holds the state of one generation. Records go to sink when set
// (the benchmark streams a million of them), else into h.
type gen struct {
	rng      *rand.Rand
	from     time.Time
	months   int
	next     int
	h        *history
	sink     func(r hotline.NeedRecord, truth string)
	statuses []hotline.Status
}

func newGen(seed uint64, from time.Time, months int) *gen {
	return &gen{
		rng:    rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		from:   from,
		months: months,
		h:      &history{from: from, to: from.AddDate(0, months, 0), truth: map[string]string{}},
		statuses: []hotline.Status{hotline.StatusResolved, hotline.StatusResolved, hotline.StatusResolved,
			hotline.StatusClosed, hotline.StatusClosed, hotline.StatusInProgress, hotline.StatusRouted, hotline.StatusAccepted},
	}
}

// ticket makes one record.
func (g *gen) ticket(truth, code, committee, desc, resident string, month int) {
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
	if g.sink != nil {
		g.sink(r, truth)
		return
	}
	g.h.records = append(g.h.records, r)
	g.h.truth[id] = truth
}

// needs adds every month's tickets of each need.
func (g *gen) needs(ns []need) {
	for _, n := range ns {
		for m := range g.months {
			k := n.perMonth + g.rng.IntN(n.perMonth+1) - n.perMonth/2
			for range k {
				res := fmt.Sprintf("%s-r%d", n.name, g.rng.IntN(n.residents))
				if g.rng.IntN(10) == 0 {
					res = "" // unknown number
				}
				g.ticket(n.name, n.code, n.committees[g.rng.IntN(len(n.committees))], g.say(n), res, m)
			}
		}
	}
}

// say writes one ticket of need n.
func (g *gen) say(n need) string {
	if len(n.en) > 0 && g.rng.Float64() < n.enShare {
		return fill(g.rng, n.en[g.rng.IntN(len(n.en))])
	}
	parts := []string{n.says[g.rng.IntN(len(n.says))]}
	if g.rng.IntN(2) == 0 {
		parts = append(parts, n.details[g.rng.IntN(len(n.details))])
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

// duplicates adds, for every k-th ticket so far, a duplicate merged into
// it: the same words, the same resident, a later time.
func (g *gen) duplicates(k int) {
	n := len(g.h.records)
	for i := 0; i < n; i += k {
		orig := g.h.records[i]
		g.next++
		d := orig
		d.TicketID = hotline.TicketIDWithCheck(strconv.Itoa(100000 + g.next))
		d.CreatedAt = orig.CreatedAt.Add(10 * time.Minute)
		d.MergedInto = orig.TicketID
		g.h.records = append(g.h.records, d)
	}
}

// noiseWords is a bank of everyday Chinese words of middling rarity from
// gse's embedded idf table (2 or 3 Han characters, none of them a word the
// grouping knows as a need), for one-off tickets that are about nothing
// in particular.
func noiseWords(n int) []string {
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

// noise adds n one-off tickets in random categories and committees, each
// a few random words with the usual greetings and numbers around them.
func (g *gen) noise(n int, bank []string, codes, committees []string) {
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
func (g *gen) synth(s synthNeed, k int, bank []string) {
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

// pairScores compares a found grouping with the truth, over pairs of
// tickets: precision is the share of pairs put together that belong
// together, recall the share of pairs that belong together that were put
// together. found maps a ticket to its group; tickets in no found group
// are alone. A one-off ("" truth) belongs with nothing.
func pairScores(truth map[string]string, found map[string]int) (precision, recall float64) {
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
