package volunteers

import (
	"cmp"
	"context"
	"encoding/csv"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caojiadu/hotline"
)

// Hours and recognition: the hours volunteers gave, from the done
// assignments (hours are recorded when the ticket is resolved, see
// TaskHours, and staff may correct them with SetHours).
//
// Who sees what: admins and social workers see the whole street; other
// staff (dispatchers, committees, a group's lead) see the tasks done in
// their subtree (the ticket's committee at or below their unit) and the
// tasks of the volunteers at home there or in a group there; volunteers
// see only their own record (Record).

// The groupings of Hours.
const (
	ByVolunteer = "volunteer"
	ByGroup     = "group"
	ByCommittee = "committee" // where the need was: the ticket's committee
	ByCategory  = "category"
)

// HoursRow is one line of an hours report.
type HoursRow struct {
	Key   string  `json:"key"`  // volunteer id, group or committee unit id, category code
	Name  string  `json:"name"` // its name ("" for none)
	Hours float64 `json:"hours"`
	Tasks int     `json:"tasks"`
}

// hoursScope is what part of the done assignments a user may count.
func (tk *Tasker) hoursScope(u *hotline.User) (func(a *hotline.Assignment, v *hotline.Volunteer) bool, error) {
	if u == nil {
		return nil, taskSignIn()
	}
	switch {
	case CanManage(u):
		return func(*hotline.Assignment, *hotline.Volunteer) bool { return true }, nil
	case u.Role == hotline.RoleVolunteer || u.UnitID == "":
		return nil, hotline.Errorf(hotline.EFORBIDDEN, "hours reports are for staff; your own hours are on your record page")
	}
	n := tk.network()
	return func(a *hotline.Assignment, v *hotline.Volunteer) bool {
		if a.Committee != "" && n.Within(a.Committee, u.UnitID) {
			return true
		}
		if v == nil {
			return false
		}
		if v.Committee != "" && n.Within(v.Committee, u.UnitID) {
			return true
		}
		for _, g := range v.Groups {
			if n.Within(g, u.UnitID) {
				return true
			}
		}
		return false
	}, nil
}

// done loads the done assignments of [from, to) that u may count, with
// their volunteers.
func (tk *Tasker) done(ctx context.Context, u *hotline.User, from, to time.Time) ([]*hotline.Assignment, map[string]*hotline.Volunteer, error) {
	scope, err := tk.hoursScope(u)
	if err != nil {
		return nil, nil, err
	}
	if !to.IsZero() && !from.IsZero() && !to.After(from) {
		fe := hotline.FieldErrors{}
		fe.Add("to", "the end of the period must be after its start")
		return nil, nil, fe.Err()
	}
	all, err := tk.Registry.Assignments.Done(ctx, from, to)
	if err != nil {
		return nil, nil, err
	}
	vols := map[string]*hotline.Volunteer{}
	var out []*hotline.Assignment
	for _, a := range all {
		v, seen := vols[a.VolunteerID]
		if !seen {
			v, err = tk.Registry.Store.FindVolunteer(ctx, a.VolunteerID)
			if hotline.ErrorCode(err) == hotline.ENOTFOUND {
				v, err = nil, nil
			} else if err != nil {
				return nil, nil, err
			}
			vols[a.VolunteerID] = v
		}
		if scope(a, v) {
			out = append(out, a)
		}
	}
	return out, vols, nil
}

// Hours sums the hours done in [from, to) (zero times: unbounded) by
// volunteer, group, committee or category, most hours first. A volunteer
// in two groups counts in both; one in none under the key "". Errors:
// EUNAUTHORIZED, EFORBIDDEN (volunteers), EINVALID (by, the period),
// EUNAVAILABLE.
func (tk *Tasker) Hours(ctx context.Context, u *hotline.User, from, to time.Time, by string) ([]HoursRow, error) {
	switch by {
	case ByVolunteer, ByGroup, ByCommittee, ByCategory:
	default:
		fe := hotline.FieldErrors{}
		fe.Add("by", "group the hours by volunteer, group, committee or category")
		return nil, fe.Err()
	}
	as, vols, err := tk.done(ctx, u, from, to)
	if err != nil {
		return nil, err
	}
	n, cat := tk.network(), tk.catalogue()
	rows := map[string]*HoursRow{}
	add := func(key, name string, a *hotline.Assignment) {
		r := rows[key]
		if r == nil {
			r = &HoursRow{Key: key, Name: name}
			rows[key] = r
		}
		r.Hours += a.Hours
		r.Tasks++
	}
	unitName := func(id string) string {
		if u, ok := n.Unit(id); ok {
			return u.NameZH
		}
		return ""
	}
	for _, a := range as {
		v := vols[a.VolunteerID]
		switch by {
		case ByVolunteer:
			name := ""
			if v != nil {
				name = v.Name
			}
			add(a.VolunteerID, name, a)
		case ByGroup:
			if v == nil || len(v.Groups) == 0 {
				add("", "", a)
				continue
			}
			for _, g := range v.Groups {
				add(g, unitName(g), a)
			}
		case ByCommittee:
			add(a.Committee, unitName(a.Committee), a)
		case ByCategory:
			name := a.Category
			if c, ok := cat.Find(a.Category); ok {
				name = c.NameZH
			}
			add(a.Category, name, a)
		}
	}
	out := make([]HoursRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b HoursRow) int {
		if c := cmp.Compare(b.Hours, a.Hours); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	return out, nil
}

// ExportHours writes the hours done in [from, to) as CSV (UTF-8 with a
// byte-order mark, so spreadsheet programs read the Chinese), one row per
// volunteer for the street's annual volunteer report:
//
//	volunteer_id, name, phone, committee, groups, tasks, hours, then one
//	column of hours per category that has any ("hours:<code>")
//
// The phone is in full only for those who may see it (PhoneVisible:
// social workers, admins, the volunteer's group lead), masked otherwise.
// Rows are by hours, most first. Who may: as Hours. Errors: as Hours.
func (tk *Tasker) ExportHours(ctx context.Context, u *hotline.User, w io.Writer, from, to time.Time) error {
	as, vols, err := tk.done(ctx, u, from, to)
	if err != nil {
		return err
	}
	type row struct {
		id    string
		tasks int
		hours float64
		byCat map[string]float64
	}
	rows := map[string]*row{}
	var cats []string
	for _, a := range as {
		r := rows[a.VolunteerID]
		if r == nil {
			r = &row{id: a.VolunteerID, byCat: map[string]float64{}}
			rows[a.VolunteerID] = r
		}
		r.tasks++
		r.hours += a.Hours
		r.byCat[a.Category] += a.Hours
		if !slices.Contains(cats, a.Category) {
			cats = append(cats, a.Category)
		}
	}
	slices.Sort(cats)
	list := make([]*row, 0, len(rows))
	for _, r := range rows {
		list = append(list, r)
	}
	slices.SortFunc(list, func(a, b *row) int {
		if c := cmp.Compare(b.hours, a.hours); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	if _, err := io.WriteString(w, "\uFEFF"); err != nil {
		return hotline.Internal(err)
	}
	cw := csv.NewWriter(w)
	head := []string{"volunteer_id", "name", "phone", "committee", "groups", "tasks", "hours"}
	for _, c := range cats {
		head = append(head, "hours:"+c)
	}
	if err := cw.Write(head); err != nil {
		return hotline.Internal(err)
	}
	n := tk.network()
	unitName := func(id string) string {
		if u, ok := n.Unit(id); ok {
			return u.NameZH
		}
		return id
	}
	for _, r := range list {
		rec := []string{r.id, "", "", "", "", strconv.Itoa(r.tasks), hoursCell(r.hours)}
		if v := vols[r.id]; v != nil {
			phone := v.Phone
			if !PhoneVisible(u, v) {
				phone = hotline.MaskPhone(v.Phone)
			}
			groups := make([]string, len(v.Groups))
			for i, g := range v.Groups {
				groups[i] = unitName(g)
			}
			rec[1], rec[2], rec[3], rec[4] = safeCell(v.Name), phone, unitName(v.Committee), safeCell(strings.Join(groups, "; "))
		}
		for _, c := range cats {
			rec = append(rec, hoursCell(r.byCat[c]))
		}
		if err := cw.Write(rec); err != nil {
			return hotline.Internal(err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return hotline.Internal(err)
	}
	return nil
}

func hoursCell(h float64) string { return strconv.FormatFloat(h, 'f', 1, 64) }

// safeCell keeps a name from being taken for a formula by a spreadsheet
// (a leading = + - @ gets a quote mark in front).
func safeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// VolunteerRecord is a volunteer's record page: the profile (as the
// viewer may see it), every assignment newest first, the hours by
// category and in total.
type VolunteerRecord struct {
	Volunteer   *hotline.Volunteer    `json:"volunteer"`
	Assignments []*hotline.Assignment `json:"assignments"`
	ByCategory  []HoursRow            `json:"by_category"`
	Hours       float64               `json:"hours"`
	Tasks       int                   `json:"tasks"` // done tasks
}

// Record returns a volunteer's record. Who may see it: admins, social
// workers, staff of the volunteer's committee (or a unit above it), the
// lead of one of their groups, and the volunteer themself (VolunteerFor).
// Anyone else gets ENOTFOUND, as for an unknown id. The phone is masked
// unless PhoneVisible or it is the volunteer's own. Errors: EUNAUTHORIZED,
// ENOTFOUND, EUNAVAILABLE.
func (tk *Tasker) Record(ctx context.Context, u *hotline.User, volunteerID string) (*VolunteerRecord, error) {
	if u == nil {
		return nil, taskSignIn()
	}
	notFound := hotline.Errorf(hotline.ENOTFOUND, "no such volunteer")
	v, err := tk.Registry.Store.FindVolunteer(ctx, volunteerID)
	if hotline.ErrorCode(err) == hotline.ENOTFOUND {
		return nil, notFound
	} else if err != nil {
		return nil, err
	}
	self := false
	switch {
	case CanManage(u), LeadsGroupOf(u, v):
	case u.Role == hotline.RoleVolunteer:
		self = UsernamePhone(u) != "" && UsernamePhone(u) == v.Phone
		if !self {
			return nil, notFound
		}
	case u.UnitID != "" && v.Committee != "" && tk.network().Within(v.Committee, u.UnitID):
	default:
		return nil, notFound
	}
	view := View(u, v)
	if self {
		view.Phone = v.Phone
	}
	as, err := tk.Registry.Assignments.VolunteerAssignments(ctx, v.ID)
	if err != nil {
		return nil, err
	}
	rec := &VolunteerRecord{Volunteer: view, Assignments: as}
	byCat := map[string]*HoursRow{}
	cat := tk.catalogue()
	for _, a := range as {
		if a.Status != hotline.AssignmentDone {
			continue
		}
		r := byCat[a.Category]
		if r == nil {
			name := a.Category
			if c, ok := cat.Find(a.Category); ok {
				name = c.NameZH
			}
			r = &HoursRow{Key: a.Category, Name: name}
			byCat[a.Category] = r
		}
		r.Hours += a.Hours
		r.Tasks++
		rec.Hours += a.Hours
		rec.Tasks++
	}
	rec.ByCategory = make([]HoursRow, 0, len(byCat))
	for _, r := range byCat {
		rec.ByCategory = append(rec.ByCategory, *r)
	}
	slices.SortFunc(rec.ByCategory, func(a, b HoursRow) int {
		if c := cmp.Compare(b.Hours, a.Hours); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	return rec, nil
}
