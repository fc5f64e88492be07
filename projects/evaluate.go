package projects

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/caojiadu/hotline"
)

// Evaluation weights and bounds. Each dimension scores 0..100.
const (
	// minElapsed keeps execution from dividing by nothing in the first
	// days of a project: progress is compared with at least 5% of the
	// period.
	minElapsed = 0.05
	// satisfactionWeight and redoWeight make up quality: residents'
	// ratings count more than redo work, which is rarer and already
	// follows a low rating.
	satisfactionWeight = 0.6
	redoWeight         = 0.4
	// spendingSlack is how far spending may run ahead of progress (10
	// points of the budget: set-up costs come before the first person is
	// served) before finance loses points; spendingSlope is the points lost
	// per point beyond (2: finance is 0 at 50 points beyond).
	spendingSlack = 0.1
	spendingSlope = 2.0
)

// UnitNeedSource streams the need records of the tickets one unit holds
// (redisstore.TicketStore.ScanUnitNeeds): Evaluate reads the
// organization's tickets only, not a year of the whole street's.
type UnitNeedSource interface {
	ScanUnitNeeds(ctx context.Context, unit string, from, to time.Time, fn func(hotline.NeedRecord) error) error
}

// Evaluate measures a purchased project on the case study's four
// dimensions, from the tickets of its purchase period up to now: those of
// its category, in its committees (all when it names none), held by the
// organization that won it. Nothing is stored; each call measures afresh.
//
//   - Execution: person-times (those tickets resolved or closed) over the
//     target is the progress; execution = min(1, progress / max(time
//     elapsed, 0.05)) × 100: 100 while the project serves at least as fast
//     as its period passes.
//   - Quality: 100 × (0.6 × mean rating / 5 + 0.4 × (1 − redo / tickets)),
//     redo being tickets reopened after a low rating; with no rating yet,
//     the redo part alone.
//   - Finance: 100 while the share of the budget spent is at most progress
//   - 0.1 and within the budget; below that 2 points per point of the
//     budget spent beyond (beyond progress + 0.1, or beyond the budget,
//     whichever is more), 0 at 50 points beyond.
//   - Management: the share of tickets resolved without passing their time
//     limit, among those resolved on time or overdue: 100 × on time / (on
//     time + late).
//
// Overall is the mean of the four. The tranche share is the share of the
// budget the evaluation supports having paid by now: overall / 100 ×
// min(progress, time elapsed rounded down to whole quarters), so money
// follows both the work done and the quarters passed, and the quality of
// both; the amount is that share of the budget (what was already paid is
// for the finance office to subtract).
//
// A dimension without evidence yet (no tickets, nothing resolved) scores
// 0 and a note says so. Notes explain each figure, Chinese then English.
// Errors: EUNAUTHORIZED, EFORBIDDEN (volunteers), ENOTFOUND (also when u
// may not see it), ECONFLICT (not purchased), EUNAVAILABLE.
func (s *Service) Evaluate(ctx context.Context, u *hotline.User, id string) (*hotline.Evaluation, error) {
	p, err := s.Get(ctx, u, id)
	if err != nil {
		return nil, err
	}
	if p.Status != hotline.ProjectPurchased || p.Purchase == nil {
		return nil, hotline.Errorf(hotline.ECONFLICT, "project %s is %s: only a purchased project is evaluated", p.ID, p.Status)
	}
	pur := p.Purchase
	now := s.now()
	ev := &hotline.Evaluation{ProjectID: p.ID, At: now.UTC(), TargetPersonTimes: pur.TargetPersonTimes, Budget: pur.Budget}

	var satSum int
	if end := minTime(pur.End, now); pur.Start.Before(end) {
		scan := s.Needs.ScanNeeds
		if u, ok := s.Needs.(UnitNeedSource); ok {
			scan = func(ctx context.Context, from, to time.Time, fn func(hotline.NeedRecord) error) error {
				return u.ScanUnitNeeds(ctx, pur.Organization, from, to, fn)
			}
		}
		err := scan(ctx, pur.Start, end, func(r hotline.NeedRecord) error {
			if !ofProject(p, r) {
				return nil
			}
			ev.Tickets++
			done := r.Status == hotline.StatusResolved || r.Status == hotline.StatusClosed
			if done {
				ev.PersonTimes++
				if !r.Overdue {
					ev.OnTime++
				}
			}
			if r.Overdue {
				ev.Late++
			}
			if r.Redo {
				ev.Redo++
			}
			if r.Satisfaction > 0 {
				satSum += r.Satisfaction
				ev.Rated++
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	for _, x := range pur.Expenses {
		ev.Spent += x.Amount
	}
	score(ev, pur, now, satSum)
	return ev, nil
}

// ofProject reports whether r is one of p's tickets: its category, in its
// committees (any when none), held by its organization; a merged
// duplicate counts as the ticket it went into.
func ofProject(p *hotline.Project, r hotline.NeedRecord) bool {
	if r.MergedInto != "" || r.ServiceCode != p.ServiceCode || r.UnitID != p.Purchase.Organization {
		return false
	}
	if len(p.Committees) == 0 {
		return true
	}
	for _, c := range p.Committees {
		if c == r.Committee {
			return true
		}
	}
	return false
}

// score fills the scores, the tranche and the notes of ev from its counts.
func score(ev *hotline.Evaluation, pur *hotline.Purchase, now time.Time, satSum int) {
	period := pur.End.Sub(pur.Start)
	ev.TimeElapsed = clamp01(float64(now.Sub(pur.Start)) / float64(period))
	if ev.TargetPersonTimes > 0 {
		ev.Progress = float64(ev.PersonTimes) / float64(ev.TargetPersonTimes)
	}
	ev.ExecutionScore = 100 * math.Min(1, ev.Progress/math.Max(ev.TimeElapsed, minElapsed))
	note := func(zh, en string, args ...any) {
		ev.Notes = append(ev.Notes, fmt.Sprintf(zh, args...), fmt.Sprintf(en, args...))
	}
	note("执行进度：服务 %[1]d 人次，目标 %[2]d 人次（完成 %.0[3]f%%），服务期已过 %.0[4]f%%；得分 %.0[5]f。",
		"Execution: %[1]d person-times served of a target of %[2]d (%.0[3]f%%), %.0[4]f%% of the period elapsed: %.0[5]f.",
		ev.PersonTimes, ev.TargetPersonTimes, 100*ev.Progress, 100*ev.TimeElapsed, ev.ExecutionScore)

	if ev.Rated > 0 {
		ev.Satisfaction = float64(satSum) / float64(ev.Rated)
	}
	switch {
	case ev.Tickets == 0:
		ev.QualityScore = 0
		note("服务质量：服务期内尚无本项目的工单，暂不能评价；得分 0。",
			"Quality: no tickets of the project in its period yet, nothing to judge: 0.")
	case ev.Rated == 0:
		ev.QualityScore = 100 * (1 - float64(ev.Redo)/float64(ev.Tickets))
		note("服务质量：%[1]d 张工单尚无居民评价，仅按返工计：返工 %[2]d 张；得分 %.0[3]f。",
			"Quality: none of %[1]d tickets rated yet, so redo work alone counts: %[2]d redone: %.0[3]f.",
			ev.Tickets, ev.Redo, ev.QualityScore)
	default:
		ev.QualityScore = 100 * (satisfactionWeight*ev.Satisfaction/5 + redoWeight*(1-float64(ev.Redo)/float64(ev.Tickets)))
		note("服务质量：%[1]d 张工单中 %[2]d 张有评价，平均满意度 %.1[3]f/5（占 60%%），返工 %[4]d 张（占 40%%）；得分 %.0[5]f。",
			"Quality: %[2]d of %[1]d tickets rated, mean %.1[3]f/5 (weight 60%%), %[4]d redone (weight 40%%): %.0[5]f.",
			ev.Tickets, ev.Rated, ev.Satisfaction, ev.Redo, ev.QualityScore)
	}

	if ev.Budget > 0 {
		ev.SpentShare = ev.Spent / ev.Budget
	}
	allowed := math.Min(ev.Progress, 1) + spendingSlack
	beyond := math.Max(0, math.Max(ev.SpentShare-allowed, ev.SpentShare-1))
	ev.FinanceScore = 100 * clamp01(1-spendingSlope*beyond)
	if ev.Spent > ev.Budget {
		note("财务合规：已支出 %.2[1]f 元，超出预算 %.2[2]f 元；得分 %.0[3]f。",
			"Finance: %.2[1]f yuan spent, over the budget of %.2[2]f yuan: %.0[3]f.",
			ev.Spent, ev.Budget, ev.FinanceScore)
	} else {
		note("财务合规：已支出 %.2[1]f 元，占预算 %.0[2]f%%，与进度 %.0[3]f%% 相比（允许超前 10 个百分点）；得分 %.0[4]f。",
			"Finance: %.2[1]f yuan spent, %.0[2]f%% of the budget, against %.0[3]f%% progress (10 points ahead allowed): %.0[4]f.",
			ev.Spent, 100*ev.SpentShare, 100*math.Min(ev.Progress, 1), ev.FinanceScore)
	}

	if n := ev.OnTime + ev.Late; n > 0 {
		ev.ManagementScore = 100 * float64(ev.OnTime) / float64(n)
		note("项目管理：按时办结 %[1]d 张，超时 %[2]d 张；得分 %.0[3]f。",
			"Management: %[1]d tickets resolved within their time limit, %[2]d overdue: %.0[3]f.",
			ev.OnTime, ev.Late, ev.ManagementScore)
	} else {
		note("项目管理：尚无办结或超时的工单，暂不能评价；得分 0。",
			"Management: no ticket resolved or overdue yet, nothing to judge: 0.")
	}

	ev.Overall = (ev.ExecutionScore + ev.QualityScore + ev.FinanceScore + ev.ManagementScore) / 4
	quarters := math.Floor(ev.TimeElapsed*4) / 4
	ev.TrancheShare = ev.Overall / 100 * math.Min(ev.Progress, quarters)
	ev.TrancheAmount = math.Round(ev.TrancheShare*ev.Budget*100) / 100
	note("综合得分 %.0[1]f（四项平均）。建议截至目前累计拨付预算的 %.1[2]f%%，即 %.2[3]f 元 = 综合得分/100 × min(进度 %.0[4]f%%, 已满季度 %.0[5]f%%)；已拨付的款项由财务扣除。",
		"Overall %.0[1]f (the mean of the four). Payment supported so far: %.1[2]f%% of the budget, %.2[3]f yuan = overall/100 × min(progress %.0[4]f%%, whole quarters elapsed %.0[5]f%%); what was already paid is for the finance office to subtract.",
		ev.Overall, 100*ev.TrancheShare, ev.TrancheAmount, 100*ev.Progress, 100*quarters)

	for _, x := range []*float64{&ev.ExecutionScore, &ev.QualityScore, &ev.FinanceScore, &ev.ManagementScore, &ev.Overall} {
		*x = math.Round(*x*10) / 10
	}
	ev.TrancheShare = math.Round(ev.TrancheShare*10000) / 10000
}

func clamp01(x float64) float64 { return math.Max(0, math.Min(1, x)) }

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
