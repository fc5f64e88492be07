package grouping

import (
	"regexp"
	"strings"
)

// Anonymising examples. A draft is read by social workers and may be
// printed for a purchase committee: its examples show what residents say,
// never who they are or where exactly they live. What is taken out:
//
//   - phone numbers: +86… and any run of 7 or more digits, spaces and
//     dashes allowed between groups (138 0013 8000, 021-6234 5678) → ***;
//   - door numbers: digits before 号, 室, 弄, 栋, 幢, 楼, 单元, 号楼
//     ("275号" → "…号", "3号楼" → "…号楼"), and in English "No. 5",
//     "Room 302", "Flat 3", "Lane 12", "Building 5", and a number before
//     a capitalised road name ("275 Changshou Rd") → "…";
//   - names: a Chinese surname before a form of address (王阿姨 → 某阿姨,
//     张师傅 → 某师傅, 李先生 → 某先生) and an English name after Mr, Mrs,
//     Ms, Miss, Dr ("Mr Smith" → "Mr …").
//
// Full names without a title (张建国) cannot be told from other words and
// are not caught; residents rarely give them in a need's description.

// surnames are the common Chinese single-character surnames (about 85 % of
// people) and a few compound ones.
const surnames = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝"

var compoundSurnames = []string{"欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "司徒", "夏侯"}

var (
	rePhone  = regexp.MustCompile(`(?:\+\s?86[\s-]?)?\d(?:[\s-]?\d){6,}`)
	reDoor   = regexp.MustCompile(`[0-9]+(?:[-－][0-9]+)*\s*(号楼|号|室|弄|栋|幢|楼|单元|层)`)
	reCNNum  = regexp.MustCompile(`[一二三四五六七八九十百零〇两]+(号楼|号|室|弄|栋|幢|单元)`)
	reTitle  = regexp.MustCompile(`(` + strings.Join(compoundSurnames, "|") + `|[` + surnames + `])(阿姨|师傅|老师|先生|女士|大爷|大妈|奶奶|爷爷|阿婆|老伯|同志|小姐|老太|阿姐|大姐|大哥|伯伯|叔叔)`)
	reENDoor = regexp.MustCompile(`(?i)\b(no\.?|number|room|rm\.?|flat|apt\.?|apartment|unit|lane|building|bldg\.?|block|house)\s*#?\s*\d+[a-z]?\b`)
	reENRoad = regexp.MustCompile(`\b\d+[a-zA-Z]?(\s+(?:[A-Z][a-z]+\s+)+(?:Road|Rd|Street|St|Lane|Ln|Avenue|Ave)\b)`)
	reENName = regexp.MustCompile(`\b(Mr|Mrs|Ms|Miss|Dr|Mister|Madam)\.?\s+[A-Z][a-zA-Z'-]*(\s+[A-Z][a-zA-Z'-]*)?`)
)

// Anonymise takes phone numbers, door numbers and names out of a
// description, as above.
func Anonymise(s string) string {
	s = strings.Map(func(r rune) rune {
		if r >= '０' && r <= '９' || r == '＋' {
			return halfWidth(r)
		}
		return r
	}, s)
	s = rePhone.ReplaceAllString(s, "***")
	s = reDoor.ReplaceAllString(s, "…$1")
	s = reCNNum.ReplaceAllString(s, "…$1")
	s = reTitle.ReplaceAllString(s, "某$2")
	s = reENDoor.ReplaceAllStringFunc(s, func(m string) string {
		word := reENDoor.FindStringSubmatch(m)[1]
		return word + " …"
	})
	s = reENRoad.ReplaceAllString(s, "…$1")
	s = reENName.ReplaceAllString(s, "$1 …")
	return s
}
