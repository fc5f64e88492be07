package projects

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/caojiadu/hotline"
)

// errAlreadyMerged tells Merge a source was merged by an earlier attempt.
var errAlreadyMerged = errors.New("already merged")

// Merge folds the drafts or proposals ids into the draft or proposal into,
// because they are one need: into gets their evidence combined (see
// combine: tickets exact, residents an upper bound) and their person-times
// and budgets summed, and lists them in MergedFrom; each of them becomes
// merged, with MergedInto. into becomes a proposal when it was a draft: a
// merge is a person's judgement, which the nightly job must not undo by
// writing its own draft over into (it writes only over drafts).
//
// The projects are written one after the other, the sources first: a
// merge cut short (a failure, a crash) is completed by calling Merge
// again with the same arguments, which accepts sources already merged
// into into and adds each one's evidence once.
// Errors: EUNAUTHORIZED, EFORBIDDEN, EINVALID, ENOTFOUND, ECONFLICT (a
// project is neither draft nor proposal), EUNAVAILABLE.
func (s *Service) Merge(ctx context.Context, u *hotline.User, into string, ids []string) (*hotline.Project, error) {
	if err := mayManage(u); err != nil {
		return nil, err
	}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	switch {
	case len(ids) == 0 || slices.Contains(ids, ""):
		return nil, hotline.FieldErrors{"ids": "name the projects to merge"}.Err()
	case slices.Contains(ids, into):
		return nil, hotline.FieldErrors{"ids": "a project cannot be merged into itself"}.Err()
	}
	target, err := s.Store.FindProject(ctx, into)
	if err != nil {
		return nil, err
	}
	if !editable(target.Status) {
		return nil, notEditable(target)
	}
	// Check every source before writing any, so a wrong id merges nothing.
	for _, id := range ids {
		p, err := s.Store.FindProject(ctx, id)
		if err != nil {
			return nil, err
		}
		if !editable(p.Status) && !(p.Status == hotline.ProjectMerged && p.MergedInto == into) {
			return nil, notEditable(p)
		}
	}
	sources := make([]*hotline.Project, 0, len(ids))
	for _, id := range ids {
		p, err := s.Store.UpdateProject(ctx, id, func(p *hotline.Project) error {
			if p.Status == hotline.ProjectMerged && p.MergedInto == into {
				return errAlreadyMerged
			}
			if !editable(p.Status) {
				return notEditable(p)
			}
			p.Status, p.MergedInto, p.UpdatedBy = hotline.ProjectMerged, into, u.ID
			return nil
		})
		if errors.Is(err, errAlreadyMerged) {
			p, err = s.Store.FindProject(ctx, id)
		}
		if err != nil {
			return nil, err
		}
		sources = append(sources, p)
	}
	return s.Store.UpdateProject(ctx, into, func(p *hotline.Project) error {
		if !editable(p.Status) {
			return notEditable(p)
		}
		for _, src := range sources {
			if slices.Contains(p.MergedFrom, src.ID) {
				continue
			}
			combine(p, src)
			p.MergedFrom = append(p.MergedFrom, src.ID)
		}
		p.Status = hotline.ProjectProposal
		p.UpdatedBy = u.ID
		return nil
	})
}

// Split moves the tickets ticketIDs (some of the project's, not all) out
// of a draft or proposal into a new draft with SplitFrom set: the need
// turned out to be two. Both evidences are counted again from the
// tickets' need records; person-times, budget and target are shared in
// proportion to the tickets, so the two add up to what there was.
//
// The project keeps its status. A draft on either side is the nightly
// job's to rewrite: its next run groups the tickets again and may well
// find one need again, continue one of the two drafts and retire the
// other. Propose both to keep a split.
// Errors: EUNAUTHORIZED, EFORBIDDEN, EINVALID (no tickets, all of them,
// or one not in the project), ENOTFOUND, ECONFLICT (not a draft or
// proposal, or its tickets changed meanwhile), EUNAVAILABLE.
func (s *Service) Split(ctx context.Context, u *hotline.User, id string, ticketIDs []string) (kept, split *hotline.Project, err error) {
	if err := mayManage(u); err != nil {
		return nil, nil, err
	}
	cur, err := s.Store.FindProject(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if !editable(cur.Status) {
		return nil, nil, notEditable(cur)
	}
	move := slices.Compact(slices.Sorted(slices.Values(ticketIDs)))
	all := cur.Evidence.TicketIDs
	var unknown []string
	for _, t := range move {
		if !slices.Contains(all, t) {
			unknown = append(unknown, t)
		}
	}
	switch {
	case len(move) == 0:
		return nil, nil, hotline.FieldErrors{"ticket_ids": "name the tickets to split off"}.Err()
	case len(unknown) > 0:
		return nil, nil, hotline.FieldErrors{"ticket_ids": "not tickets of project " + id + ": " + strings.Join(unknown, ", ")}.Err()
	case len(move) >= len(all):
		return nil, nil, hotline.FieldErrors{"ticket_ids": "leave at least one ticket in the project"}.Err()
	}
	var stay []string
	for _, t := range all {
		if !slices.Contains(move, t) {
			stay = append(stay, t)
		}
	}
	recs, err := s.records(ctx, cur)
	if err != nil {
		return nil, nil, err
	}
	keptEv, splitEv := recount(cur.Evidence, stay, recs), recount(cur.Evidence, move, recs)
	n := len(all)
	splitPT := share(cur.PersonTimes, len(move), n)
	splitTarget := share(cur.TargetPersonTimes, len(move), n)
	splitBudget := math.Round(cur.Budget*float64(len(move))/float64(n)*100) / 100

	kept, err = s.Store.UpdateProject(ctx, id, func(p *hotline.Project) error {
		if !editable(p.Status) {
			return notEditable(p)
		}
		if !slices.Equal(p.Evidence.TicketIDs, all) {
			return hotline.Errorf(hotline.ECONFLICT, "the tickets of project %s changed meanwhile; reload it and split again", id)
		}
		p.Evidence = keptEv
		p.Committees = committeeIDs(keptEv.Committees, nil)
		p.PersonTimes -= splitPT
		p.TargetPersonTimes -= splitTarget
		p.Budget = math.Round((p.Budget-splitBudget)*100) / 100
		p.UpdatedBy = u.ID
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	now := s.now().UTC()
	split = &hotline.Project{
		Status: hotline.ProjectDraft, Year: cur.Year,
		TitleZH: cur.TitleZH + "（拆分）", TitleEN: cur.TitleEN + " (split)",
		SummaryZH: cur.SummaryZH, SummaryEN: cur.SummaryEN,
		ServiceCode: cur.ServiceCode, Population: cur.Population, OrgKind: cur.OrgKind,
		Committees: committeeIDs(splitEv.Committees, nil), Evidence: splitEv,
		PersonTimes: splitPT, CostPerPersonTime: cur.CostPerPersonTime, Budget: splitBudget,
		TargetPersonTimes: splitTarget, Objectives: cur.Objectives,
		SplitFrom: id, CreatedAt: now, UpdatedAt: now, UpdatedBy: u.ID,
	}
	if err := s.Store.CreateProject(ctx, split); err != nil {
		// Put the tickets back rather than leave them in no project.
		if _, uerr := s.Store.UpdateProject(context.WithoutCancel(ctx), id, func(p *hotline.Project) error {
			p.Evidence, p.Committees = cur.Evidence, cur.Committees
			p.PersonTimes, p.TargetPersonTimes, p.Budget = cur.PersonTimes, cur.TargetPersonTimes, cur.Budget
			return nil
		}); uerr != nil {
			s.logger().Error("a failed split left tickets out of their project", "project", id, "tickets", len(move), "err", uerr)
		}
		return nil, nil, err
	}
	return kept, split, nil
}

// records reads the need records of p's tickets: by id when a
// RecordReader is wired, else by scanning Needs over the months of p's
// evidence.
func (s *Service) records(ctx context.Context, p *hotline.Project) (map[string]hotline.NeedRecord, error) {
	ids := p.Evidence.TicketIDs
	out := make(map[string]hotline.NeedRecord, len(ids))
	if s.Records != nil {
		recs, err := s.Records.NeedRecords(ctx, ids)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			out[r.TicketID] = r
		}
		return out, nil
	}
	from, to := monthsSpan(p.Evidence.Months, s.now())
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	err := s.Needs.ScanNeeds(ctx, from, to, func(r hotline.NeedRecord) error {
		if want[r.TicketID] {
			out[r.TicketID] = r
		}
		return nil
	})
	return out, err
}

// monthsSpan is [first day of the first month, first day after the last
// month) on the street's clock; without months, the year up to now.
func monthsSpan(months []hotline.MonthCount, now time.Time) (from, to time.Time) {
	var first, last time.Time
	for _, m := range months {
		t, err := time.ParseInLocation("2006-01", m.Month, shanghai)
		if err != nil {
			continue
		}
		if first.IsZero() || t.Before(first) {
			first = t
		}
		if t.After(last) {
			last = t
		}
	}
	if first.IsZero() {
		return now.AddDate(-1, 0, 0), now
	}
	return first, last.AddDate(0, 1, 0)
}
