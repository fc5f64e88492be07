package report

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/caojiadu/hotline"
)

// md writes Markdown, keeping the first write error.
type md struct {
	w   *bufio.Writer
	err error
}

func newMD(w io.Writer) *md { return &md{w: bufio.NewWriter(w)} }

func (m *md) line(s string) {
	if m.err == nil {
		_, m.err = m.w.WriteString(s + "\n")
	}
}

func (m *md) linef(format string, args ...any) { m.line(fmt.Sprintf(format, args...)) }

// table writes a header and rows; every cell is escaped.
func (m *md) table(head []string, rows [][]string) {
	m.line("| " + strings.Join(escapeAll(head), " | ") + " |")
	seps := make([]string, len(head))
	for i := range seps {
		seps[i] = "---"
	}
	m.line("| " + strings.Join(seps, " | ") + " |")
	for _, r := range rows {
		m.line("| " + strings.Join(escapeAll(r), " | ") + " |")
	}
	m.line("")
}

func (m *md) done() error {
	if m.err == nil {
		m.err = m.w.Flush()
	}
	if m.err != nil {
		return hotline.Internal(fmt.Errorf("report: write the Markdown: %w", m.err))
	}
	return nil
}

// mdSpecial are the characters that could start markup in running text or
// end a table cell. Escaping all of them keeps what a resident or a social
// worker wrote as text: no link, no HTML, no heading, no broken table.
var mdSpecial = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", `*`, `\*`, `_`, `\_`, `[`, `\[`, `]`, `\]`, `<`, `\<`, `>`, `\>`,
	`#`, `\#`, `|`, `\|`, `!`, `\!`, `~`, `\~`,
	"\r\n", " ", "\n", " ", "\r", " ",
)

// Escape makes s safe as one line of Markdown text or one table cell.
func Escape(s string) string { return mdSpecial.Replace(strings.TrimSpace(s)) }

func escapeAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = Escape(s)
	}
	return out
}

// paragraphs writes a text of several lines as paragraphs, each escaped.
func (m *md) paragraphs(s string) {
	for _, p := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if p = strings.TrimSpace(p); p != "" {
			m.line(Escape(p))
			m.line("")
		}
	}
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "—"
	}
	return s
}

// ProposalMarkdown writes one project as Markdown: its fields, summary and
// objectives, the evidence (measures, tickets by month and by committee,
// keywords, anonymised examples) and, once purchased, the purchase and its
// spending. Errors: EINTERNAL.
func ProposalMarkdown(w io.Writer, p *hotline.Project, dir hotline.Directory) error {
	if p == nil {
		return hotline.Internal(errors.New("report: no project"))
	}
	n := names{dir}
	m := newMD(w)
	m.line("# " + Escape(orDash(p.TitleZH)))
	m.line("")
	if p.TitleEN != "" {
		m.line("**" + Escape(p.TitleEN) + "**")
		m.line("")
	}
	rows := [][]string{
		{"编号 ID", p.ID},
		{"状态 Status", StatusName(p.Status)},
		{"年度 Year", strconv.Itoa(p.Year)},
		{"服务类别 Category", n.categoryBi(p.ServiceCode)},
		{"服务对象 Population", orDash(termBi(hotline.Populations, p.Population))},
		{"居委会 Committees", orDash(n.committees(p.Committees))},
		{"预计服务人次 Estimated person-times", strconv.Itoa(p.PersonTimes)},
		{"每人次成本（元） Cost per person-time (yuan)", yuan(p.CostPerPersonTime)},
		{"目标服务人次 Target person-times", strconv.Itoa(targetPersonTimes(p))},
		{"预算（元） Budget (yuan)", yuan(budget(p))},
		{"承接机构类型 Kind of organization", orDash(termBi(hotline.OrgKinds, p.OrgKind))},
		{"承接机构 Organization", orDash(n.unitBi(organization(p)))},
	}
	if p.Trend != "" {
		rows = append(rows, []string{"趋势 Trend", TrendName(p.Trend)})
	}
	if p.Status == hotline.ProjectRejected && p.RejectReason != "" {
		rows = append(rows, []string{"退回原因 Reason rejected", p.RejectReason})
	}
	if p.MergedInto != "" {
		rows = append(rows, []string{"并入 Merged into", p.MergedInto})
	}
	if len(p.MergedFrom) > 0 {
		rows = append(rows, []string{"合并自 Merged from", strings.Join(p.MergedFrom, ", ")})
	}
	if p.SplitFrom != "" {
		rows = append(rows, []string{"拆分自 Split from", p.SplitFrom})
	}
	m.table([]string{"项目 Field", "内容 Value"}, rows)

	if p.SummaryZH != "" || p.SummaryEN != "" {
		m.line("## 概述 Summary")
		m.line("")
		m.paragraphs(p.SummaryZH)
		m.paragraphs(p.SummaryEN)
	}
	if p.Objectives != "" {
		m.line("## 目标 Objectives")
		m.line("")
		m.paragraphs(p.Objectives)
	}

	evidenceMarkdown(m, p, n)

	if pu := p.Purchase; pu != nil {
		m.line("## 采购 Purchase")
		m.line("")
		m.table([]string{"项目 Field", "内容 Value"}, [][]string{
			{"承接机构 Organization", orDash(n.unitBi(pu.Organization))},
			{"预算（元） Budget (yuan)", yuan(pu.Budget)},
			{"开始 Start", orDash(date(pu.Start))},
			{"结束 End", orDash(date(pu.End))},
			{"目标服务人次 Target person-times", strconv.Itoa(pu.TargetPersonTimes)},
			{"已支出（元） Spent (yuan)", yuan(spent(pu))},
		})
		if len(pu.Expenses) > 0 {
			m.line("### 支出 Expenses")
			m.line("")
			var er [][]string
			for _, e := range pu.Expenses {
				er = append(er, []string{date(e.At), yuan(e.Amount), e.Note})
			}
			m.table([]string{"日期 Date", "金额（元） Amount (yuan)", "说明 Note"}, er)
		}
	}
	return m.done()
}

func evidenceMarkdown(m *md, p *hotline.Project, n names) {
	e := p.Evidence
	m.line("## 需求依据 Evidence")
	m.line("")
	rows := [][]string{
		{"工单 Tickets", strconv.Itoa(e.Tickets)},
		{"居民 Residents", strconv.Itoa(e.Residents)},
		{"升级或超时 Escalated or overdue", percent(e.EscalatedShare)},
		{"未解决 Unresolved", percent(e.UnresolvedShare)},
		{"满意度 Satisfaction", satisfaction(e.Satisfaction, e.Rated)},
	}
	if p.PreviousTickets > 0 {
		rows = append(rows, []string{"上次分析的工单 Tickets at the previous run", strconv.Itoa(p.PreviousTickets)})
	}
	m.table([]string{"指标 Measure", "数值 Value"}, rows)

	if len(e.Months) > 0 {
		m.line("### 按月工单 Tickets by month")
		m.line("")
		var mr [][]string
		for _, x := range e.Months {
			mr = append(mr, []string{x.Month, strconv.Itoa(x.Count)})
		}
		m.table([]string{"月份 Month", "工单 Tickets"}, mr)
	}
	if len(e.Committees) > 0 {
		m.line("### 按居委会 By committee")
		m.line("")
		var cr [][]string
		for _, c := range e.Committees {
			cr = append(cr, []string{n.unitBi(c.Committee), strconv.Itoa(c.Count)})
		}
		m.table([]string{"居委会 Committee", "工单 Tickets"}, cr)
	}
	if len(e.Keywords) > 0 {
		m.line("### 关键词 Keywords")
		m.line("")
		m.line(Escape(strings.Join(e.Keywords, "、")))
		m.line("")
	}
	if len(e.Examples) > 0 {
		m.line("### 示例（已去除个人信息） Examples (personal details removed)")
		m.line("")
		for _, x := range e.Examples {
			m.line("- " + Escape(x))
		}
		m.line("")
	}
}

// YearMarkdown writes the projects planned for year as Markdown: a table
// of every project with a totals row, and each project's tickets month by
// month. Errors: EINTERNAL.
func YearMarkdown(w io.Writer, year int, ps []*hotline.Project, dir hotline.Directory) error {
	n := names{dir}
	ps = ordered(nonNil(ps))
	m := newMD(w)
	m.linef("# %d 年度社区服务项目 Community service projects for %d", year, year)
	m.line("")
	counts := map[hotline.ProjectStatus]int{}
	for _, p := range ps {
		counts[p.Status]++
	}
	var parts []string
	for _, s := range hotline.ProjectStatuses {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", StatusName(s), counts[s]))
		}
	}
	m.linef("共 %d 个项目 %d projects%s", len(ps), len(ps), func() string {
		if len(parts) == 0 {
			return ""
		}
		return "：" + Escape(strings.Join(parts, "，"))
	}())
	m.line("")

	head := []string{"编号 ID", "状态 Status", "项目名称 Title", "服务类别 Category", "服务对象 Population",
		"居委会 Committees", "工单 Tickets", "居民 Residents", "预计人次 Person-times", "目标人次 Target",
		"预算（元） Budget (yuan)", "承接机构 Organization", "趋势 Trend"}
	var rows [][]string
	for _, p := range ps {
		rows = append(rows, []string{p.ID, StatusName(p.Status), bi(p.TitleZH, p.TitleEN), n.categoryBi(p.ServiceCode),
			termBi(hotline.Populations, p.Population), n.committees(p.Committees), strconv.Itoa(p.Evidence.Tickets),
			strconv.Itoa(p.Evidence.Residents), strconv.Itoa(p.PersonTimes), strconv.Itoa(targetPersonTimes(p)),
			yuan(budget(p)), n.unit(organization(p), "zh"), TrendName(p.Trend)})
	}
	t := sum(ps)
	rows = append(rows, []string{"合计 Total", "", "", "", "", "", strconv.Itoa(t.tickets), strconv.Itoa(t.residents),
		strconv.Itoa(t.personTimes), strconv.Itoa(t.target), yuan(t.budget), "", ""})
	m.table(head, rows)

	ms := months(ps)
	if len(ms) > 0 {
		m.line("## 按月工单 Tickets by month")
		m.line("")
		mh := append([]string{"编号 ID"}, ms...)
		mh = append(mh, "合计 Total")
		var mr [][]string
		perMonth := make([]int, len(ms))
		for _, p := range ps {
			counts := monthCounts(p)
			r, total := []string{p.ID}, 0
			for i, x := range ms {
				r = append(r, strconv.Itoa(counts[x]))
				perMonth[i] += counts[x]
				total += counts[x]
			}
			mr = append(mr, append(r, strconv.Itoa(total)))
		}
		r, all := []string{"合计 Total"}, 0
		for _, c := range perMonth {
			r = append(r, strconv.Itoa(c))
			all += c
		}
		m.table(mh, append(mr, append(r, strconv.Itoa(all))))
	}
	return m.done()
}
