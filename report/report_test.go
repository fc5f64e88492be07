package report_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/network"
	"github.com/caojiadu/hotline/report"
)

func demoDirectory() hotline.Directory {
	n, c := network.Demo()
	return hotline.NewStaticDirectory(n, c)
}

var shanghai = time.FixedZone("CST", 8*60*60)

// proposal is a proposal made of a draft about older people living alone
// in c01 and c02, whose evidence has an example with Markdown in it.
func proposal() *hotline.Project {
	return &hotline.Project{
		ID: "P7", Status: hotline.ProjectProposal, Year: 2027,
		TitleZH: "独居老人上门探访", TitleEN: "Home visits to elderly people living alone",
		SummaryZH: "叶家宅路和宜昌路的独居老人反复来电要求探访。\n第二段。", SummaryEN: "Elderly people living alone call again and again.",
		ServiceCode: "elderly_visit", Population: "elderly_alone", Committees: []string{"c01", "c02"},
		Evidence: hotline.Evidence{
			Tickets: 42, Residents: 30,
			Months:         []hotline.MonthCount{{Month: "2026-01", Count: 10}, {Month: "2026-02", Count: 12}, {Month: "2026-03", Count: 20}},
			Committees:     []hotline.CommitteeCount{{Committee: "c01", Count: 30}, {Committee: "c02", Count: 12}},
			EscalatedShare: 0.25, UnresolvedShare: 0.1, Satisfaction: 4.25, Rated: 8,
			Examples:  []string{"老人[某]独居，|需要| <b>探访</b> *每周*", "行动不便\n需要陪同就医"},
			Keywords:  []string{"独居", "探访"},
			TicketIDs: []string{"160035", "160036"},
		},
		PersonTimes: 504, CostPerPersonTime: 80, Budget: 40320, OrgKind: "elderly_care",
		Trend: hotline.TrendGrowing, PreviousTickets: 30,
		Objectives: "每周探访一次", TargetPersonTimes: 480, Organization: "org-elderly",
		UpdatedAt: time.Date(2026, 4, 2, 20, 0, 0, 0, time.UTC),
	}
}

// purchased is a purchased project with two expenses.
func purchased() *hotline.Project {
	return &hotline.Project{
		ID: "P12", Status: hotline.ProjectPurchased, Year: 2027,
		TitleZH: "居家维修", TitleEN: "Home repairs", ServiceCode: "home_repair", Population: "residents",
		Committees: []string{"c02"},
		Evidence: hotline.Evidence{Tickets: 8, Residents: 7,
			Months: []hotline.MonthCount{{Month: "2026-02", Count: 3}, {Month: "2026-04", Count: 5}}},
		PersonTimes: 100, Budget: 10000, TargetPersonTimes: 90,
		Purchase: &hotline.Purchase{Organization: "org-repair", Budget: 9500.5, TargetPersonTimes: 95,
			Start: time.Date(2027, 1, 1, 0, 0, 0, 0, shanghai), End: time.Date(2027, 12, 31, 0, 0, 0, 0, shanghai),
			Expenses: []hotline.Expense{
				{At: time.Date(2027, 2, 1, 1, 0, 0, 0, time.UTC), Amount: 1200, Note: "工具", By: "u9"},
				{At: time.Date(2027, 3, 1, 1, 0, 0, 0, time.UTC), Amount: 300.25, Note: "材料", By: "u9"},
			}},
	}
}

func draft() *hotline.Project {
	return &hotline.Project{ID: "P3", Status: hotline.ProjectDraft, Year: 2027, TitleZH: "楼道照明", TitleEN: "Stairwell lights",
		ServiceCode: "facilities", Committees: []string{"c07"}, Trend: hotline.TrendNew,
		Evidence:    hotline.Evidence{Tickets: 5, Residents: 5, Months: []hotline.MonthCount{{Month: "2026-03", Count: 5}}},
		PersonTimes: 20, Budget: 1000}
}

// mustOpen reads a workbook back.
func mustOpen(t *testing.T, b []byte) *excelize.File {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("open the workbook: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func mustCell(t *testing.T, f *excelize.File, sheet, c string) string {
	t.Helper()
	v, err := f.GetCellValue(sheet, c, excelize.Options{RawCellValue: true})
	if err != nil {
		t.Fatalf("%s!%s: %v", sheet, c, err)
	}
	return v
}

// rowsOf reads a sheet as rows of raw values.
func rowsOf(t *testing.T, f *excelize.File, sheet string) [][]string {
	t.Helper()
	rows, err := f.GetRows(sheet, excelize.Options{RawCellValue: true})
	if err != nil {
		t.Fatalf("rows of %s: %v", sheet, err)
	}
	return rows
}

// field finds the value beside a label in column A.
func field(rows [][]string, label string) (string, bool) {
	for _, r := range rows {
		if len(r) >= 2 && r[0] == label {
			return r[1], true
		}
	}
	return "", false
}

func TestProposalXLSX(t *testing.T) {
	var buf bytes.Buffer
	if err := report.ProposalXLSX(&buf, proposal(), demoDirectory()); err != nil {
		t.Fatal(err)
	}
	f := mustOpen(t, buf.Bytes())
	if got, want := f.GetSheetList(), []string{report.SheetProject, report.SheetEvidence}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("sheets = %q, want %q", got, want)
	}
	if got := mustCell(t, f, report.SheetProject, "A1"); got != "独居老人上门探访" {
		t.Errorf("title = %q", got)
	}
	if got := mustCell(t, f, report.SheetProject, "A2"); got != "Home visits to elderly people living alone" {
		t.Errorf("English title = %q", got)
	}
	rows := rowsOf(t, f, report.SheetProject)
	for label, want := range map[string]string{
		"编号 ID":                                "P7",
		"状态 Status":                            "提案 / Proposal",
		"服务类别 Category":                        "上门探访 / Home visits to older people",
		"服务对象 Population":                      "独居老人 / Elderly people living alone",
		"居委会 Committees":                       "叶家宅路居委会、宜昌路居委会",
		"预算（元） Budget (yuan)":                  "40320",
		"目标服务人次 Target person-times":           "480",
		"承接机构 Organization":                    "乐龄为老服务社 / Leling Elderly Care Services",
		"承接机构类型 Kind of organization":          "为老服务机构 / Elderly-care organization",
		"趋势 Trend":                             "增长 / Growing",
		"更新 Updated":                           "2026-04-03",
		"每人次成本（元） Cost per person-time (yuan)": "80",
	} {
		got, ok := field(rows, label)
		if !ok {
			t.Errorf("no row %q", label)
		} else if !strings.HasPrefix(got, want) {
			t.Errorf("%s = %q, want %q", label, got, want)
		}
	}

	ev := rowsOf(t, f, report.SheetEvidence)
	if got, _ := field(ev, "工单 Tickets"); got != "42" {
		t.Errorf("evidence tickets = %q", got)
	}
	if got, _ := field(ev, "2026-03"); got != "20" {
		t.Errorf("March = %q", got)
	}
	if got, _ := field(ev, "叶家宅路居委会 / Yejiazhai Road Neighbourhood Committee"); got != "30" {
		t.Errorf("c01's tickets = %q", got)
	}
	if got, _ := field(ev, "升级或超时 Escalated or overdue"); got != "0.25" {
		t.Errorf("escalated share = %q (a number formatted as a percentage)", got)
	}
	all := fmtRows(ev)
	if !strings.Contains(all, "老人[某]独居，|需要| <b>探访</b> *每周*") {
		t.Errorf("the example is not there as written: %s", all)
	}
	if strings.Contains(all, "160035") || strings.Contains(fmtRows(rows), "160035") {
		t.Errorf("the workbook names a ticket id")
	}
}

func fmtRows(rows [][]string) string {
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(strings.Join(r, "\t"))
		b.WriteByte('\n')
	}
	return b.String()
}

func TestProposalXLSX_Purchased(t *testing.T) {
	var buf bytes.Buffer
	if err := report.ProposalXLSX(&buf, purchased(), nil); err != nil {
		t.Fatal(err)
	}
	f := mustOpen(t, buf.Bytes())
	if got := f.GetSheetList(); len(got) != 3 || got[2] != report.SheetExpenses {
		t.Fatalf("sheets = %q, want the expenses third", got)
	}
	rows := rowsOf(t, f, report.SheetProject)
	// Without a directory, codes stand for names.
	if got, _ := field(rows, "承接机构 Organization"); got != "org-repair" {
		t.Errorf("organization = %q", got)
	}
	if got, _ := field(rows, "预算（元） Budget (yuan)"); got != "9500.5" {
		t.Errorf("budget = %q, want the purchase's", got)
	}
	if got, _ := field(rows, "开始 Start"); got != "2027-01-01" {
		t.Errorf("start = %q", got)
	}
	ex := rowsOf(t, f, report.SheetExpenses)
	if got, _ := field(ex, "合计 Total"); got != "1500.25" {
		t.Errorf("spent = %q", got)
	}
	if got, _ := field(ex, "2027-02-01"); got != "1200" {
		t.Errorf("first expense = %q", got)
	}
	if strings.Contains(fmtRows(ex), "u9") {
		t.Errorf("the expenses name who recorded them: %s", fmtRows(ex))
	}
}

func TestYearXLSX(t *testing.T) {
	var buf bytes.Buffer
	ps := []*hotline.Project{purchased(), draft(), nil, proposal()}
	if err := report.YearXLSX(&buf, 2027, ps, demoDirectory()); err != nil {
		t.Fatal(err)
	}
	f := mustOpen(t, buf.Bytes())
	if got := f.GetSheetList(); len(got) != 2 || got[0] != report.SheetProjects || got[1] != report.SheetMonths {
		t.Fatalf("sheets = %q", got)
	}
	rows := rowsOf(t, f, report.SheetProjects)
	if got := rows[0][0]; got != "2027 年度社区服务项目 Community service projects for 2027" {
		t.Errorf("title = %q", got)
	}
	if got := strings.Join(rows[2], "|"); got != strings.Join(report.YearColumns, "|") {
		t.Errorf("header = %q", got)
	}
	// Drafts first, then proposals, then purchased.
	var ids []string
	for _, r := range rows[3 : len(rows)-1] {
		ids = append(ids, r[0])
	}
	if got := strings.Join(ids, ","); got != "P3,P7,P12" {
		t.Errorf("rows = %s, want P3,P7,P12", got)
	}
	p7 := rows[4]
	for i, want := range []string{"P7", "提案 / Proposal", "独居老人上门探访", "Home visits to elderly people living alone",
		"上门探访 / Home visits to older people", "独居老人 / Elderly people living alone", "叶家宅路居委会、宜昌路居委会", "42", "30",
		"504", "480", "40320", "乐龄为老服务社", "增长 / Growing"} {
		if p7[i] != want {
			t.Errorf("P7 column %d (%s) = %q, want %q", i+1, report.YearColumns[i], p7[i], want)
		}
	}
	total := rows[len(rows)-1]
	if total[0] != "合计 Total" || total[1] != "3 个项目 projects" {
		t.Errorf("totals row = %q", total)
	}
	// 5+42+8 tickets, 5+30+7 residents, 20+504+100 person-times,
	// 0+480+95 target, 1000+40320+9500.5 yuan.
	for i, want := range map[int]string{7: "55", 8: "42", 9: "624", 10: "575", 11: "50820.5"} {
		if total[i] != want {
			t.Errorf("total of %s = %q, want %q", report.YearColumns[i], total[i], want)
		}
	}

	ms := rowsOf(t, f, report.SheetMonths)
	if got := strings.Join(ms[0], "|"); got != "编号 ID|项目名称 Title|2026-01|2026-02|2026-03|2026-04|合计 Total" {
		t.Errorf("months header = %q", got)
	}
	want := [][]string{
		{"P3", "楼道照明", "0", "0", "5", "0", "5"},
		{"P7", "独居老人上门探访", "10", "12", "20", "0", "42"},
		{"P12", "居家维修", "0", "3", "0", "5", "8"},
		{"合计 Total", "", "10", "15", "25", "5", "55"},
	}
	for i, w := range want {
		if got := strings.Join(ms[i+1], "|"); got != strings.Join(w, "|") {
			t.Errorf("months row %d = %q, want %q", i+1, got, strings.Join(w, "|"))
		}
	}
}

func TestYearXLSX_Empty(t *testing.T) {
	var buf bytes.Buffer
	if err := report.YearXLSX(&buf, 2030, nil, nil); err != nil {
		t.Fatal(err)
	}
	rows := rowsOf(t, mustOpen(t, buf.Bytes()), report.SheetProjects)
	if got := rows[len(rows)-1]; got[0] != "合计 Total" || got[1] != "0 个项目 projects" || got[7] != "0" {
		t.Errorf("totals of nothing = %q", got)
	}
}

func TestProposalMarkdown(t *testing.T) {
	var buf bytes.Buffer
	if err := report.ProposalMarkdown(&buf, proposal(), demoDirectory()); err != nil {
		t.Fatal(err)
	}
	got := buf.String()
	for _, want := range []string{
		"# 独居老人上门探访\n\n**Home visits to elderly people living alone**\n",
		"| 项目 Field | 内容 Value |\n| --- | --- |\n| 编号 ID | P7 |\n| 状态 Status | 提案 / Proposal |\n",
		"| 居委会 Committees | 叶家宅路居委会、宜昌路居委会 |",
		"| 预算（元） Budget (yuan) | 40,320 |",
		"| 承接机构 Organization | 乐龄为老服务社 / Leling Elderly Care Services |",
		"## 概述 Summary\n\n叶家宅路和宜昌路的独居老人反复来电要求探访。\n\n第二段。\n\nElderly people living alone call again and again.\n",
		"## 目标 Objectives\n\n每周探访一次\n",
		"## 需求依据 Evidence\n",
		"| 工单 Tickets | 42 |\n| 居民 Residents | 30 |\n| 升级或超时 Escalated or overdue | 25% |\n| 未解决 Unresolved | 10% |\n",
		"| 满意度 Satisfaction | 4.2 / 5（8 人评价 rated） |",
		"| 月份 Month | 工单 Tickets |\n| --- | --- |\n| 2026-01 | 10 |\n| 2026-02 | 12 |\n| 2026-03 | 20 |\n",
		"| 叶家宅路居委会 / Yejiazhai Road Neighbourhood Committee | 30 |",
		"### 关键词 Keywords\n\n独居、探访\n",
		// What the resident wrote stays text: no HTML, no emphasis, no
		// extra table cells.
		"- 老人\\[某\\]独居，\\|需要\\| \\<b\\>探访\\</b\\> \\*每周\\*\n- 行动不便 需要陪同就医\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "160035") || strings.Contains(got, "采购 Purchase") {
		t.Errorf("Markdown has a ticket id or a purchase:\n%s", got)
	}
}

func TestProposalMarkdown_Purchased(t *testing.T) {
	var buf bytes.Buffer
	if err := report.ProposalMarkdown(&buf, purchased(), demoDirectory()); err != nil {
		t.Fatal(err)
	}
	got := buf.String()
	for _, want := range []string{
		"## 采购 Purchase\n",
		"| 承接机构 Organization | 邻里帮居家维修社 / Linlibang Home Repair (social enterprise) |",
		"| 预算（元） Budget (yuan) | 9,500.50 |",
		"| 开始 Start | 2027-01-01 |\n| 结束 End | 2027-12-31 |",
		"| 已支出（元） Spent (yuan) | 1,500.25 |",
		"| 日期 Date | 金额（元） Amount (yuan) | 说明 Note |\n| --- | --- | --- |\n| 2027-02-01 | 1,200 | 工具 |\n| 2027-03-01 | 300.25 | 材料 |\n",
		"| 满意度 Satisfaction | — |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, got)
		}
	}
}

func TestYearMarkdown(t *testing.T) {
	var buf bytes.Buffer
	if err := report.YearMarkdown(&buf, 2027, []*hotline.Project{purchased(), proposal(), draft()}, demoDirectory()); err != nil {
		t.Fatal(err)
	}
	got := buf.String()
	for _, want := range []string{
		"# 2027 年度社区服务项目 Community service projects for 2027\n\n共 3 个项目 3 projects：草案 / Draft 1，提案 / Proposal 1，已购买 / Purchased 1\n",
		"| P3 | 草案 / Draft | 楼道照明 / Stairwell lights | 公共设施 / Public facilities |",
		"| P7 | 提案 / Proposal | 独居老人上门探访 / Home visits to elderly people living alone |",
		"| 42 | 30 | 504 | 480 | 40,320 | 乐龄为老服务社 | 增长 / Growing |",
		"| 合计 Total |  |  |  |  |  | 55 | 42 | 624 | 575 | 50,820.50 |  |  |",
		"## 按月工单 Tickets by month\n\n| 编号 ID | 2026-01 | 2026-02 | 2026-03 | 2026-04 | 合计 Total |\n",
		"| P7 | 10 | 12 | 20 | 0 | 42 |\n",
		"| 合计 Total | 10 | 15 | 25 | 5 | 55 |\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, got)
		}
	}
	if i, j := strings.Index(got, "| P3 |"), strings.Index(got, "| P12 |"); i < 0 || j < i {
		t.Errorf("the draft is not before the purchased project:\n%s", got)
	}
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"普通文字":                "普通文字",
		"a|b":                 `a\|b`,
		"# 标题":                `\# 标题`,
		"[链接](http://x)":      `\[链接\](http://x)`,
		"<script>x</script>":  `\<script\>x\</script\>`,
		"第一行\n第二行":            "第一行 第二行",
		"  两边空格  ":            "两边空格",
		"`code` _i_ ~s~ !img": "\\`code\\` \\_i\\_ \\~s\\~ \\!img",
	} {
		if got := report.Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
}
