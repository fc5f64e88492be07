package report

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/caojiadu/hotline"
)

// Sheet names, both languages (Excel allows 31 characters).
const (
	SheetProject  = "项目 Project"
	SheetEvidence = "需求依据 Evidence"
	SheetExpenses = "支出 Expenses"
	SheetProjects = "项目 Projects"
	SheetMonths   = "按月工单 Tickets by month"
)

// shanghai is the street's time zone, for the dates written (China keeps
// no daylight saving time).
var shanghai = time.FixedZone("CST", 8*60*60)

// Number formats: built-in 3 is "#,##0", 4 "#,##0.00", 9 "0%".
const (
	fmtInt     = 3
	fmtMoney   = 4
	fmtPercent = 9
)

// book is a workbook being written, with its styles.
type book struct {
	f                                *excelize.File
	title, bold, head, money, intFmt int
	pct, wrap                        int
	err                              error
}

func newBook() *book {
	b := &book{f: excelize.NewFile()}
	b.title = b.style(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 14}})
	b.bold = b.style(&excelize.Style{Font: &excelize.Font{Bold: true}})
	b.head = b.style(&excelize.Style{Font: &excelize.Font{Bold: true},
		Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDEBF7"}},
		Alignment: &excelize.Alignment{WrapText: true, Vertical: "top"}})
	b.money = b.style(&excelize.Style{NumFmt: fmtMoney})
	b.intFmt = b.style(&excelize.Style{NumFmt: fmtInt})
	b.pct = b.style(&excelize.Style{NumFmt: fmtPercent})
	b.wrap = b.style(&excelize.Style{Alignment: &excelize.Alignment{WrapText: true, Vertical: "top"}})
	return b
}

func (b *book) style(s *excelize.Style) int {
	if b.err != nil {
		return 0
	}
	id, err := b.f.NewStyle(s)
	b.err = err
	return id
}

// sheet names the first sheet, or adds one.
func (b *book) sheet(name string, first bool) {
	if b.err != nil {
		return
	}
	if first {
		b.err = b.f.SetSheetName(b.f.GetSheetName(0), name)
		return
	}
	_, b.err = b.f.NewSheet(name)
}

func cell(col, row int) string {
	c, _ := excelize.CoordinatesToCellName(col, row) // col, row ≥ 1 here
	return c
}

// set writes v at (col, row) with style (0: none).
func (b *book) set(sheet string, col, row int, v any, style int) {
	if b.err != nil {
		return
	}
	c := cell(col, row)
	if b.err = b.f.SetCellValue(sheet, c, v); b.err == nil && style != 0 {
		b.err = b.f.SetCellStyle(sheet, c, c, style)
	}
}

// row writes vs from column 1 of row, each with the style of the same
// index in styles (missing or 0: none).
func (b *book) row(sheet string, row int, styles []int, vs ...any) {
	for i, v := range vs {
		st := 0
		if i < len(styles) {
			st = styles[i]
		}
		b.set(sheet, i+1, row, v, st)
	}
}

func (b *book) widths(sheet string, ws ...float64) {
	for i, w := range ws {
		if b.err != nil {
			return
		}
		col, _ := excelize.ColumnNumberToName(i + 1)
		b.err = b.f.SetColWidth(sheet, col, col, w)
	}
}

// freeze keeps the rows above row fixed while scrolling.
func (b *book) freeze(sheet string, row int) {
	if b.err != nil {
		return
	}
	b.err = b.f.SetPanes(sheet, &excelize.Panes{Freeze: true, YSplit: row - 1, TopLeftCell: cell(1, row), ActivePane: "bottomLeft"})
}

func (b *book) write(w io.Writer) error {
	defer b.f.Close()
	if b.err != nil {
		return hotline.Internal(fmt.Errorf("report: build the workbook: %w", b.err))
	}
	b.f.SetActiveSheet(0)
	if _, err := b.f.WriteTo(w); err != nil {
		return hotline.Internal(fmt.Errorf("report: write the workbook: %w", err))
	}
	return nil
}

// date writes a time as a date in Shanghai, "" for none.
func date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(shanghai).Format(time.DateOnly)
}

// ProposalXLSX writes one project as a workbook: the proposal's fields
// ("项目 Project"), its evidence with the tickets by month and by
// committee ("需求依据 Evidence") and, once purchased, the spending
// recorded against it ("支出 Expenses"). Errors: EINTERNAL.
func ProposalXLSX(w io.Writer, p *hotline.Project, dir hotline.Directory) error {
	if p == nil {
		return hotline.Internal(errors.New("report: no project"))
	}
	n := names{dir}
	b := newBook()

	sh := SheetProject
	b.sheet(sh, true)
	b.set(sh, 1, 1, p.TitleZH, b.title)
	b.set(sh, 1, 2, p.TitleEN, b.bold)
	b.row(sh, 4, []int{b.head, b.head}, "项目 Field", "内容 Value")
	r := 5
	field := func(label string, v any, style int) {
		b.set(sh, 1, r, label, b.bold)
		b.set(sh, 2, r, v, style)
		r++
	}
	field("编号 ID", p.ID, 0)
	field("状态 Status", StatusName(p.Status), 0)
	field("年度 Year", p.Year, 0)
	field("服务类别 Category", n.categoryBi(p.ServiceCode), 0)
	field("服务对象 Population", termBi(hotline.Populations, p.Population), 0)
	field("居委会 Committees", n.committees(p.Committees), b.wrap)
	field("概述 Summary", p.SummaryZH, b.wrap)
	field("Summary (English)", p.SummaryEN, b.wrap)
	field("目标 Objectives", p.Objectives, b.wrap)
	field("预计服务人次 Estimated person-times", p.PersonTimes, b.intFmt)
	field("每人次成本（元） Cost per person-time (yuan)", p.CostPerPersonTime, b.money)
	field("目标服务人次 Target person-times", targetPersonTimes(p), b.intFmt)
	field("预算（元） Budget (yuan)", budget(p), b.money)
	field("承接机构类型 Kind of organization", termBi(hotline.OrgKinds, p.OrgKind), 0)
	field("承接机构 Organization", n.unitBi(organization(p)), 0)
	field("趋势 Trend", TrendName(p.Trend), 0)
	if p.Status == hotline.ProjectRejected {
		field("退回原因 Reason rejected", p.RejectReason, b.wrap)
	}
	if pu := p.Purchase; pu != nil {
		field("开始 Start", date(pu.Start), 0)
		field("结束 End", date(pu.End), 0)
		field("已支出（元） Spent (yuan)", spent(pu), b.money)
	}
	field("更新 Updated", date(p.UpdatedAt), 0)
	b.widths(sh, 34, 70)

	b.evidenceSheet(p, n)
	if p.Purchase != nil {
		b.expensesSheet(p.Purchase)
	}
	return b.write(w)
}

func (b *book) evidenceSheet(p *hotline.Project, n names) {
	sh, e := SheetEvidence, p.Evidence
	b.sheet(sh, false)
	b.set(sh, 1, 1, "需求依据 Evidence", b.title)
	b.row(sh, 3, []int{b.head, b.head}, "指标 Measure", "数值 Value")
	r := 4
	measure := func(label string, v any, style int) {
		b.set(sh, 1, r, label, b.bold)
		b.set(sh, 2, r, v, style)
		r++
	}
	measure("工单 Tickets", e.Tickets, b.intFmt)
	measure("居民 Residents", e.Residents, b.intFmt)
	measure("升级或超时 Escalated or overdue", e.EscalatedShare, b.pct)
	measure("未解决 Unresolved", e.UnresolvedShare, b.pct)
	if e.Rated > 0 {
		measure("满意度（1–5） Satisfaction (1–5)", e.Satisfaction, 0)
		measure("评价人数 Rated", e.Rated, b.intFmt)
	}
	measure("关键词 Keywords", strings.Join(e.Keywords, "、"), b.wrap)
	if p.PreviousTickets > 0 {
		measure("上次分析的工单 Tickets at the previous run", p.PreviousTickets, b.intFmt)
	}

	r++
	b.row(sh, r, []int{b.head, b.head}, "月份 Month", "工单 Tickets")
	r++
	for _, m := range e.Months {
		b.row(sh, r, []int{0, b.intFmt}, m.Month, m.Count)
		r++
	}

	r++
	b.row(sh, r, []int{b.head, b.head}, "居委会 Committee", "工单 Tickets")
	r++
	for _, c := range e.Committees {
		b.row(sh, r, []int{0, b.intFmt}, n.unitBi(c.Committee), c.Count)
		r++
	}

	if len(e.Examples) > 0 {
		r++
		b.set(sh, 1, r, "示例（已去除个人信息） Examples (personal details removed)", b.head)
		b.set(sh, 2, r, "", b.head)
		r++
		for i, x := range e.Examples {
			b.set(sh, 1, r, strconv.Itoa(i+1), 0)
			b.set(sh, 2, r, x, b.wrap)
			r++
		}
	}
	b.widths(sh, 40, 70)
}

func (b *book) expensesSheet(pu *hotline.Purchase) {
	sh := SheetExpenses
	b.sheet(sh, false)
	b.row(sh, 1, []int{b.head, b.head, b.head}, "日期 Date", "金额（元） Amount (yuan)", "说明 Note")
	r := 2
	for _, e := range pu.Expenses {
		b.row(sh, r, []int{0, b.money, b.wrap}, date(e.At), e.Amount, e.Note)
		r++
	}
	b.row(sh, r, []int{b.bold, b.money}, "合计 Total", spent(pu))
	b.set(sh, 1, r+1, "预算 Budget", b.bold)
	b.set(sh, 2, r+1, pu.Budget, b.money)
	b.widths(sh, 14, 22, 60)
	b.freeze(sh, 2)
}

// YearColumns are the columns of the year's sheet, Chinese and English.
var YearColumns = []string{
	"编号 ID", "状态 Status", "项目名称 Title", "Title (English)", "服务类别 Category",
	"服务对象 Population", "居委会 Committees", "工单 Tickets", "居民 Residents",
	"预计人次 Person-times", "目标人次 Target person-times", "预算（元） Budget (yuan)",
	"承接机构 Organization", "趋势 Trend",
}

// YearXLSX writes the projects planned for year: one row per project with
// a totals row ("项目 Projects"), and each project's tickets month by month
// ("按月工单 Tickets by month"). Projects are in lifecycle order, drafts
// and proposals first. Errors: EINTERNAL.
func YearXLSX(w io.Writer, year int, ps []*hotline.Project, dir hotline.Directory) error {
	n := names{dir}
	ps = ordered(nonNil(ps))
	b := newBook()

	sh := SheetProjects
	b.sheet(sh, true)
	b.set(sh, 1, 1, fmt.Sprintf("%d 年度社区服务项目 Community service projects for %d", year, year), b.title)
	head := make([]int, len(YearColumns))
	for i := range head {
		head[i] = b.head
	}
	cols := make([]any, len(YearColumns))
	for i, c := range YearColumns {
		cols[i] = c
	}
	const first = 3 // the header row
	b.row(sh, first, head, cols...)
	styles := []int{0, 0, b.wrap, b.wrap, 0, 0, b.wrap, b.intFmt, b.intFmt, b.intFmt, b.intFmt, b.money, 0, 0}
	r := first + 1
	for _, p := range ps {
		b.row(sh, r, styles, p.ID, StatusName(p.Status), p.TitleZH, p.TitleEN, n.categoryBi(p.ServiceCode),
			termBi(hotline.Populations, p.Population), n.committees(p.Committees), p.Evidence.Tickets,
			p.Evidence.Residents, p.PersonTimes, targetPersonTimes(p), budget(p), n.unit(organization(p), "zh"),
			TrendName(p.Trend))
		r++
	}
	t := sum(ps)
	bold := []int{b.bold, b.bold}
	b.row(sh, r, bold, "合计 Total", fmt.Sprintf("%d 个项目 projects", len(ps)))
	for col, v := range map[int]any{8: t.tickets, 9: t.residents, 10: t.personTimes, 11: t.target} {
		b.set(sh, col, r, v, b.intFmt)
	}
	b.set(sh, 12, r, t.budget, b.money)
	b.widths(sh, 9, 14, 28, 28, 20, 20, 24, 9, 9, 11, 11, 14, 22, 14)
	b.freeze(sh, first+1)

	b.monthsSheet(ps)
	return b.write(w)
}

func nonNil(ps []*hotline.Project) []*hotline.Project {
	out := make([]*hotline.Project, 0, len(ps))
	for _, p := range ps {
		if p != nil {
			out = append(out, p)
		}
	}
	return out
}

// monthsSheet is one row per project, one column per month any of them
// counts, and a total of each.
func (b *book) monthsSheet(ps []*hotline.Project) {
	sh := SheetMonths
	b.sheet(sh, false)
	ms := months(ps)
	head := []any{"编号 ID", "项目名称 Title"}
	for _, m := range ms {
		head = append(head, m)
	}
	head = append(head, "合计 Total")
	hs := make([]int, len(head))
	for i := range hs {
		hs[i] = b.head
	}
	b.row(sh, 1, hs, head...)
	perMonth := make([]int, len(ms))
	r := 2
	for _, p := range ps {
		counts := monthCounts(p)
		b.set(sh, 1, r, p.ID, 0)
		b.set(sh, 2, r, p.TitleZH, 0)
		total := 0
		for i, m := range ms {
			b.set(sh, 3+i, r, counts[m], b.intFmt)
			perMonth[i] += counts[m]
			total += counts[m]
		}
		b.set(sh, 3+len(ms), r, total, b.intFmt)
		r++
	}
	b.set(sh, 1, r, "合计 Total", b.bold)
	all := 0
	for i, c := range perMonth {
		b.set(sh, 3+i, r, c, b.intFmt)
		all += c
	}
	b.set(sh, 3+len(ms), r, all, b.intFmt)
	ws := []float64{9, 28}
	for range ms {
		ws = append(ws, 9)
	}
	b.widths(sh, append(ws, 9)...)
	b.freeze(sh, 2)
}
