package grouping

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/go-ego/gse"
)

// Words: what a description is reduced to before it is compared.
//
// A description becomes a set of words: Chinese runs are cut into words by
// gse with its embedded simplified-Chinese dictionary plus the domain words
// of the lexicon below; Latin runs are lowercased words with a plural -s
// taken off; digits and punctuation only separate words. Stop words of
// both languages go, and so do single Chinese characters except the few
// that carry a need on their own (灯, 水, 坏, 臭 …). Finally the lexicon
// folds synonyms and English domain words into one concept word, so that
// "楼梯灯不亮", "声控灯坏了" and "the stairwell light is broken" all
// contain 楼道灯 and 坏.

// concept is one entry of the domain lexicon: every form in zh (added to
// the segmenter's dictionary) and every English form in en (a stemmed word
// or two words joined by a space) becomes the words of canon; gloss names
// the concept in English titles.
type concept struct {
	canon []string
	zh    []string
	en    []string
	gloss string
}

// lexicon lists the domain's concepts. Its Chinese forms are added to the
// segmenter, which otherwise cuts e.g. 楼道灯 into 楼道 + 灯 and 代配药
// into 代 + 配药. Keep it to words residents use for needs; a form listed
// here never reaches the similarity as itself.
var lexicon = []concept{
	{canon: []string{"楼道灯"}, zh: []string{"楼道灯", "楼梯灯", "走廊灯", "过道灯", "声控灯", "感应灯", "楼道的灯", "楼梯的灯", "楼道里的灯"},
		en: []string{"corridor light", "stairwell light", "stair light", "hallway light", "landing light", "corridor lamp", "stairwell lamp"}, gloss: "corridor lights"},
	{canon: []string{"电梯"}, zh: []string{"电梯"}, en: []string{"lift", "elevator"}, gloss: "lifts"},
	{canon: []string{"电梯", "门"}, zh: []string{"电梯门"}},
	{canon: []string{"坏"}, zh: []string{"坏了", "又坏了", "坏掉", "坏掉了", "损坏", "故障", "不亮", "不亮了", "不灵", "失灵", "不能用", "用不了", "停运"},
		en: []string{"broken", "broke", "not working", "out of order", "faulty", "stuck"}, gloss: "breakdowns"},
	{canon: []string{"送餐"}, zh: []string{"送餐", "上门送餐", "送餐上门", "送饭", "送饭上门", "配送餐"}, en: []string{"meal", "meals on wheels", "lunch", "deliver meal", "food delivery"}, gloss: "meal delivery"},
	{canon: []string{"助餐"}, zh: []string{"助餐", "老年助餐", "助餐点"}, gloss: "meal help"},
	{canon: []string{"长者食堂"}, zh: []string{"长者食堂", "老年食堂", "社区食堂"}, en: []string{"canteen"}, gloss: "the canteen"},
	{canon: []string{"独居", "老人"}, zh: []string{"独居老人", "孤寡老人", "空巢老人"}, gloss: "older people living alone"},
	{canon: []string{"独居"}, zh: []string{"独居", "一个人住", "独自居住", "空巢"}, en: []string{"alone", "live alone", "lives alone", "living alone"}, gloss: "living alone"},
	{canon: []string{"老人"}, zh: []string{"老人", "老年人", "老人家", "老人们", "高龄老人", "长者"}, en: []string{"elderly", "older people", "old people", "old man", "old woman", "pensioner"}, gloss: "older people"},
	{canon: []string{"漏水"}, zh: []string{"漏水", "渗水", "滴水", "往下漏水", "漏水了"}, en: []string{"leak", "leaking", "leaked", "dripping"}, gloss: "leaks"},
	{canon: []string{"水龙头"}, zh: []string{"水龙头", "龙头"}, en: []string{"tap", "faucet"}, gloss: "taps"},
	{canon: []string{"堵塞"}, zh: []string{"堵塞", "堵了", "堵住", "不通", "下水不通"}, en: []string{"blocked", "clogged"}, gloss: "blockages"},
	{canon: []string{"噪音"}, zh: []string{"噪音", "噪声", "太吵", "吵闹", "很吵", "吵得", "扰民"}, en: []string{"noise", "noisy", "loud"}, gloss: "noise"},
	{canon: []string{"助浴"}, zh: []string{"助浴", "上门助浴", "洗澡"}, en: []string{"bath", "bathing", "shower"}, gloss: "bathing help"},
	{canon: []string{"配药"}, zh: []string{"代配药", "配药", "拿药", "开药", "取药", "代购药"}, en: []string{"medicine", "prescription", "pharmacy"}, gloss: "medicine collection"},
	{canon: []string{"垃圾"}, zh: []string{"垃圾", "垃圾桶", "垃圾箱", "生活垃圾"}, en: []string{"rubbish", "garbage", "trash", "bin"}, gloss: "rubbish"},
	{canon: []string{"堆物"}, zh: []string{"堆物", "堆放", "杂物", "堆满", "乱堆"}, en: []string{"clutter", "junk"}, gloss: "clutter"},
	{canon: []string{"轮椅"}, zh: []string{"轮椅"}, en: []string{"wheelchair"}, gloss: "wheelchairs"},
	{canon: []string{"残疾"}, zh: []string{"残疾", "残疾人", "残障"}, en: []string{"disabled", "disability"}, gloss: "disability"},
	{canon: []string{"托管"}, zh: []string{"托管", "课后托管", "暑托班", "晚托班"}, en: []string{"after school", "childcare", "babysit"}, gloss: "after-school care"},
	{canon: []string{"孩子"}, zh: []string{"孩子", "小孩", "儿童", "小朋友"}, en: []string{"child", "children", "kid"}, gloss: "children"},
	{canon: []string{"学生"}, zh: []string{"学生", "小学生", "中学生"}, en: []string{"student", "pupil"}, gloss: "pupils"},
	{canon: []string{"探访"}, zh: []string{"探访", "看望", "上门看望", "陪聊", "陪伴", "上门探访"}, en: []string{"visit", "visiting"}, gloss: "visits"},
	{canon: []string{"低保"}, zh: []string{"低保", "最低生活保障"}, en: []string{"minimum living allowance", "welfare"}, gloss: "subsistence allowance"},
	{canon: []string{"困难"}, zh: []string{"困难", "困难家庭", "生活困难"}, en: []string{"hardship"}, gloss: "hardship"},
	{canon: []string{"老鼠"}, zh: []string{"老鼠", "鼠患"}, en: []string{"rat", "mouse", "mice"}, gloss: "rats"},
	{canon: []string{"异味"}, zh: []string{"异味", "臭味", "很臭", "发臭"}, en: []string{"smell", "stink"}, gloss: "smells"},
	{canon: []string{"路灯"}, zh: []string{"路灯"}, en: []string{"street light", "streetlight"}, gloss: "street lights"},
	{canon: []string{"停车"}, zh: []string{"停车", "乱停车", "占道停车"}, en: []string{"parking"}, gloss: "parking"},
	{canon: []string{"家庭医生"}, zh: []string{"家庭医生"}, en: []string{"family doctor", "gp"}, gloss: "family doctors"},
	{canon: []string{"心理"}, zh: []string{"心理", "心理咨询", "心理疏导"}, en: []string{"counselling", "counseling"}, gloss: "counselling"},
	{canon: []string{"开裂"}, zh: []string{"开裂", "裂缝", "裂开"}, en: []string{"crack", "cracked"}, gloss: "cracks"},
}

// meaningfulChars are the single Chinese characters kept as words: each
// names a thing or a trouble by itself. Every other single character
// (particles, measure words, 楼 of "12楼", surnames) is dropped.
const meaningfulChars = "灯水电气坏修臭吵饭菜药锁墙门窗漏堵鼠狗猫树车咸冷热病痛"

// zhStop are Chinese words that say nothing about the need: pronouns,
// particles, politeness, time words, and titles (阿姨, 师傅) that come with
// names. A word ending in a title (张师傅, 李阿姨 are in the dictionary) is
// dropped too (see isTitleWord).
var zhStop = words(`的 了 吗 呢 啊 吧 呀 哦 嗯 喂 请 请问 我 我们 我家 咱们 你 你们 您 他 她 它 他们 她们 家里 家 一下 这 那 这个 那个 这些 那些 这样 那样
有 是 在 和 与 及 也 都 就 还 又 很 太 非常 特别 已经 一直 现在 今天 昨天 前天 最近 好几天 几天 好久 时候 什么 怎么 怎么办 为什么 能 能不能 可以 可不可以
想 想要 希望 需要 要 帮忙 帮 帮助 麻烦 谢谢 感谢 您好 你好 一个 有点 有些 没有 没人 不 没 给 让 被 把 从 到 对 说 问 问问 问题 情况 反映 反应 老是 总是 经常
一些 每天 天天 那边 这边 这里 那里 里 上 下 中 后 前 又是 还是 就是 但是 可是 因为 所以 如果 然后 而且 或者 其他 之前 以后 时间 一次 几次 多次 好多 很多
阿姨 师傅 老师 先生 女士 大爷 大妈 奶奶 爷爷 阿婆 老伯 同志 小姐 老太太 老先生 居委会 居委 社区 热线 电话 打电话 号 楼 室 弄 单元 联系 处理 解决 尽快 一下子
有没有 有人 没人管 不能 不行 不了 一辆 几个 一点 一些 一直在 知道 觉得 看看 来 去 过来 过去 一样 左右 大概 天 月 年 号楼 啥 咋 么 嘛 呗 吧`)

// honorifics come before an English name, which is then dropped too.
var honorifics = words(`mr mrs ms miss dr mr. mrs. ms. dr. madam`)

// enStop are English words that say nothing about the need.
var enStop = words(`a an the my me i i'm im we our us you your he she him her it its they them their is are was were be been being am do does did
have has had to of in on at for from with by and or but not no nor please can could would will shall should may might must this that these
those there here what when where which who whom how why very so just also again still since ago day days week weeks month months time times
hello hi thanks thank help need needs want wants someone somebody some any get gets got into out up down about over after before because if
then than as all every lot lots really one two three sir mum mom dad mother father wife husband son daughter neighbour
neighbor our it's don't doesn't can't cannot won't isn't aren't wasn't there's come came go goes going make made see seen ask asking call calling`)

func words(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

// titles are the forms of address that follow a surname: 王阿姨, 张师傅.
var titles = []string{"阿姨", "师傅", "老师", "先生", "女士", "大爷", "大妈", "奶奶", "爷爷", "阿婆", "老伯", "同志", "小姐", "老太", "阿姐"}

// isTitleWord reports whether w is a surname plus a title (张师傅, 李先生,
// 欧阳阿姨), a word of the dictionary that would otherwise make a person
// a topic.
func isTitleWord(w string) bool {
	// Every title is two characters (6 bytes); the surname one or two.
	return (len(w) == 9 || len(w) == 12) && titleSet[w[len(w)-6:]]
}

var titleSet = func() map[string]bool {
	m := map[string]bool{}
	for _, t := range titles {
		m[t] = true
	}
	return m
}()

var (
	zhCanon map[string][]string // Chinese form → concept words
	enCanon map[string][]string // English stemmed form (one or two words) → concept words
	glosses map[string]string   // concept word → English gloss
)

func init() {
	zhCanon = map[string][]string{}
	enCanon = map[string][]string{}
	glosses = map[string]string{}
	for _, c := range lexicon {
		for _, f := range c.zh {
			zhCanon[f] = c.canon
		}
		for _, f := range c.en {
			ws := strings.Fields(f)
			for i := range ws {
				ws[i] = stem(ws[i])
			}
			enCanon[strings.Join(ws, " ")] = c.canon
		}
		if len(c.canon) == 1 {
			glosses[c.canon[0]] = c.gloss
		}
	}
}

var (
	segOnce sync.Once
	seg     gse.Segmenter
	segErr  error
)

// segmenter returns the process's Chinese segmenter, loading it on first
// use: the embedded dictionary takes about 1.3 s and 128 MiB, so only a
// process that groups pays for it. The domain words are loaded before the
// dictionary so that its one frequency calculation covers both; their
// frequency (2000, like a common noun) makes the segmenter keep them whole.
// After loading the segmenter is only read, so concurrent cuts are safe.
func segmenter() (*gse.Segmenter, error) {
	segOnce.Do(func() {
		seg.SkipLog = true
		var b strings.Builder
		for _, c := range lexicon {
			for _, f := range c.zh {
				if utf8.RuneCountInString(f) > 1 {
					b.WriteString(f + " 2000 n\n")
				}
			}
		}
		if segErr = seg.LoadDictStr(b.String()); segErr != nil {
			return
		}
		segErr = seg.LoadDictEmbed("zh_s")
	})
	return &seg, segErr
}

// Tokens returns the words of a description used for similarity, each
// once (a word's weight does not grow with repetition: "坏了坏了" is no
// more about breakage than "坏了"): the Chinese words in the order they
// appear, then the English ones.
func Tokens(text string) []string {
	var t tokenizer
	return t.tokens(text, nil)
}

// tokenizer holds scratch space reused across descriptions.
type tokenizer struct {
	han    []byte   // the Chinese runs, joined by "，"
	buf    []byte   // the English word being read
	en     []string // the English phrase being read
	out    []string
	enDone []string // English words of ended phrases
	seen   map[string]bool
}

func (t *tokenizer) add(ws ...string) {
	for _, w := range ws {
		if !t.seen[w] {
			t.seen[w] = true
			t.out = append(t.out, w)
		}
	}
}

// tokens appends the words of text to out.
func (t *tokenizer) tokens(text string, out []string) []string {
	if t.seen == nil {
		t.seen = map[string]bool{}
	}
	clear(t.seen)
	t.out = out
	t.han, t.buf, t.en = t.han[:0], t.buf[:0], t.en[:0]
	// Runs of Han characters are gathered and cut in one call; runs of
	// Latin letters are English words, and a space or hyphen between two
	// keeps them one phrase ("not working"). Anything else (digits,
	// punctuation) only separates.
	inHan := false
	for _, r := range text {
		r = halfWidth(r)
		switch {
		case r >= 0x2E80 && unicode.Is(unicode.Han, r): // 0x2E80: the first Han range
			if len(t.buf) > 0 {
				t.word()
			}
			t.phrase()
			if !inHan && len(t.han) > 0 {
				t.han = append(t.han, "，"...)
			}
			inHan = true
			t.han = utf8.AppendRune(t.han, r)
		case r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '\''):
			inHan = false
			if r >= 'A' && r <= 'Z' {
				r += 'a' - 'A'
			}
			t.buf = append(t.buf, byte(r))
		default:
			inHan = false
			wasWord := len(t.buf) > 0
			if wasWord {
				t.word()
			}
			if !(wasWord && (r == ' ' || r == '-')) {
				t.phrase()
			}
		}
	}
	if len(t.buf) > 0 {
		t.word()
	}
	t.phrase()
	t.cutHan()
	return t.out
}

// word ends an English word.
func (t *tokenizer) word() {
	t.en = append(t.en, stem(string(t.buf)))
	t.buf = t.buf[:0]
}

// phrase ends an English phrase: its words are added after the Chinese
// ones (see tokens), so they wait in enDone.
func (t *tokenizer) phrase() {
	if len(t.en) == 0 {
		return
	}
	for _, w := range englishWords(t.en) {
		t.enDone = append(t.enDone, w...)
	}
	t.en = t.en[:0]
}

// cutHan cuts the gathered Chinese into concept words.
func (t *tokenizer) cutHan() {
	defer func() {
		t.add(t.enDone...)
		t.enDone = t.enDone[:0]
	}()
	if len(t.han) == 0 {
		return
	}
	s, err := segmenter()
	if err != nil {
		// Without a dictionary every meaningful character stands alone: a
		// poorer but still deterministic comparison.
		for _, r := range string(t.han) {
			if strings.ContainsRune(meaningfulChars, r) {
				t.add(string(r))
			}
		}
		return
	}
	for _, w := range s.Cut(string(t.han)) {
		if c, ok := zhCanon[w]; ok {
			t.add(c...)
			continue
		}
		if len(w) <= 3 { // one character (or the "，" between runs)
			r, _ := utf8.DecodeRuneInString(w)
			if strings.ContainsRune(meaningfulChars, r) {
				t.add(w)
			}
			continue
		}
		if zhStop[w] || isTitleWord(w) {
			continue
		}
		t.add(w)
	}
}

// englishWords turns a phrase of stemmed English words into concept words:
// two-word forms of the lexicon first ("not working"), then one-word forms,
// then the remaining words that are not stop words.
func englishWords(ws []string) [][]string {
	var out [][]string
	for i := 0; i < len(ws); i++ {
		if i+1 < len(ws) {
			if c, ok := enCanon[ws[i]+" "+ws[i+1]]; ok {
				out = append(out, c)
				i++
				continue
			}
		}
		if c, ok := enCanon[ws[i]]; ok {
			out = append(out, c)
			continue
		}
		w := strings.Trim(ws[i], "'")
		if honorifics[w] {
			i++ // the name after "Mr" is a person, not a need
			continue
		}
		if len(w) < 2 || enStop[w] || enStop[ws[i]] {
			continue
		}
		out = append(out, []string{w})
	}
	return out
}

// stem takes the plural and the common verb endings off an English word:
// lights → light, families → family, boxes → box, leaking → leak,
// delivered → deliver; "ss" (address), "us" (bus) and "is" (this) stay.
// Crude, but the same on both sides of a comparison, which is all it needs.
func stem(w string) string {
	n := len(w)
	switch {
	case n > 4 && strings.HasSuffix(w, "ies"):
		return w[:n-3] + "y"
	case n > 4 && (strings.HasSuffix(w, "ches") || strings.HasSuffix(w, "shes") || strings.HasSuffix(w, "xes") || strings.HasSuffix(w, "sses")):
		return w[:n-2]
	case n > 3 && w[n-1] == 's' && !strings.HasSuffix(w, "ss") && !strings.HasSuffix(w, "us") && !strings.HasSuffix(w, "is") && !strings.HasSuffix(w, "'s"):
		return w[:n-1]
	case n > 2 && strings.HasSuffix(w, "'s"):
		return w[:n-2]
	case n > 5 && strings.HasSuffix(w, "ing"):
		return w[:n-3] // leaking → leak, working → work
	case n > 4 && strings.HasSuffix(w, "ed") && !strings.HasSuffix(w, "eed"):
		return w[:n-2] // leaked → leak, delivered → deliver
	}
	return w
}

// halfWidth maps full-width ASCII forms (Ａ, １, ！) to ASCII.
func halfWidth(r rune) rune {
	if r >= 0xFF01 && r <= 0xFF5E {
		return r - 0xFF01 + '!'
	}
	if r == 0x3000 {
		return ' '
	}
	return r
}
