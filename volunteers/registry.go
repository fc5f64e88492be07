package volunteers

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/dispatch"
	"github.com/caojiadu/hotline/intake"
)

// Service is the volunteer registry's logic. Its fields are its
// dependencies; set them before the first call and do not change them
// afterwards. The zero values of the tuning fields mean the defaults.
type Service struct {
	Store hotline.VolunteerStore
	// Assignments gives the volunteers' open tasks (their load) to
	// matching. Nil: every volunteer counts as free.
	Assignments hotline.AssignmentStore
	// Directory hands out the network (committees, groups, gazetteer) and
	// the catalogue (skills) in force.
	Directory hotline.Directory
	// Now is the clock; tests replace it. Nil: time.Now.
	Now func() time.Time
	// Logger reports failures without personal data. Nil: slog.Default.
	Logger *slog.Logger

	// Radius is how far from the resident (metres) matching looks for
	// volunteers (0: DefaultRadius).
	Radius float64
	// MaxTasks is how many open tasks a volunteer carries at most before
	// matching passes them over, when their own MaxTasks is 0
	// (0: DefaultMaxTasks).
	MaxTasks int
}

// Defaults of the Service's tuning fields.
const (
	// DefaultRadius is a quarter-hour walk: the street is 1.5 km², so
	// 3 km takes in all of it from anywhere inside.
	DefaultRadius = 3000.0
	// DefaultMaxTasks keeps a volunteer to two open tasks at once.
	DefaultMaxTasks = 2
)

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// Term is an entry of a fixed list: a code stored and exchanged, and its
// Chinese and English names (a CSV or the form may give any of the three).
type Term struct {
	Code   string `json:"code"`
	NameZH string `json:"name_zh"`
	NameEN string `json:"name_en"`
}

// Qualifications are the professional qualifications the registry knows.
var Qualifications = []Term{
	{"lawyer", "律师", "lawyer"},
	{"counsellor", "心理咨询师", "psychological counsellor"},
	{"social_worker", "社会工作者", "social worker"},
	{"nurse", "护士", "nurse"},
	{"doctor", "医生", "doctor"},
	{"first_aid", "急救员", "first aider"},
	{"electrician", "电工", "electrician"},
	{"plumber", "水管工", "plumber"},
	{"teacher", "教师", "teacher"},
	{"sign_interpreter", "手语翻译", "sign language interpreter"},
}

// Languages are the languages and dialects a volunteer may speak. "zh" is
// Mandarin: every resident's ticket in Chinese is served by it.
var Languages = []Term{
	{"zh", "普通话", "Mandarin"},
	{"en", "英语", "English"},
	{"wuu", "上海话", "Shanghainese"},
	{"yue", "粤语", "Cantonese"},
	{"nan", "闽南话", "Hokkien"},
	{"csl", "手语", "Chinese Sign Language"},
	{"ja", "日语", "Japanese"},
	{"ko", "韩语", "Korean"},
}

// Classifications are the classes a social worker sorts approved
// volunteers into.
var Classifications = []Term{
	{"professional", "专业志愿者", "professional"},
	{"skilled", "技能志愿者", "skilled"},
	{"general", "普通志愿者", "general"},
	{"youth", "青少年志愿者", "youth"},
}

// lookupTerm finds s among terms by code or either name, ignoring case
// and surrounding space.
func lookupTerm(terms []Term, s string) (string, bool) {
	s = strings.TrimSpace(s)
	for _, t := range terms {
		if strings.EqualFold(s, t.Code) || s == t.NameZH || strings.EqualFold(s, t.NameEN) {
			return t.Code, true
		}
	}
	return "", false
}

func codes(terms []Term) string {
	var cs []string
	for _, t := range terms {
		cs = append(cs, t.Code)
	}
	return strings.Join(cs, ", ")
}

// transitions are the status changes the workflow allows. Active is
// reached by approval then activation (a social worker, or the first
// accepted task); rejected and left are final.
var transitions = map[hotline.VolunteerStatus][]hotline.VolunteerStatus{
	hotline.VolunteerApplied:   {hotline.VolunteerApproved, hotline.VolunteerRejected},
	hotline.VolunteerApproved:  {hotline.VolunteerActive, hotline.VolunteerSuspended, hotline.VolunteerLeft},
	hotline.VolunteerActive:    {hotline.VolunteerSuspended, hotline.VolunteerLeft},
	hotline.VolunteerSuspended: {hotline.VolunteerActive, hotline.VolunteerLeft},
}

// CanTransition reports whether a volunteer may move from one status to
// another.
func CanTransition(from, to hotline.VolunteerStatus) bool {
	return slices.Contains(transitions[from], to)
}

// validStatus reports whether st is a known status.
func validStatus(st hotline.VolunteerStatus) bool {
	switch st {
	case hotline.VolunteerApplied, hotline.VolunteerApproved, hotline.VolunteerActive,
		hotline.VolunteerSuspended, hotline.VolunteerLeft, hotline.VolunteerRejected:
		return true
	}
	return false
}

// CanManage reports whether u decides on volunteers: approves, classifies,
// rejects, suspends, edits profiles, imports and exports the registry.
func CanManage(u *hotline.User) bool {
	return u != nil && (u.Role == hotline.RoleSocialWorker || u.Role == hotline.RoleAdmin)
}

// LeadsGroupOf reports whether u leads one of v's groups: the group's
// lead signs in as a committee-role user of the group's unit.
func LeadsGroupOf(u *hotline.User, v *hotline.Volunteer) bool {
	return u != nil && v != nil && u.Role == hotline.RoleCommittee && u.UnitID != "" &&
		slices.Contains(v.Groups, u.UnitID)
}

// PhoneVisible reports whether u may see v's full phone number: social
// workers, administrators and the lead of one of v's groups.
func PhoneVisible(u *hotline.User, v *hotline.Volunteer) bool {
	return CanManage(u) || LeadsGroupOf(u, v)
}

// View returns a copy of v for u: the phone masked (hotline.MaskPhone)
// unless PhoneVisible, the social worker's notes only for those who
// manage volunteers.
func View(u *hotline.User, v *hotline.Volunteer) *hotline.Volunteer {
	if v == nil {
		return nil
	}
	c := *v
	if !PhoneVisible(u, v) {
		c.Phone = hotline.MaskPhone(v.Phone)
	}
	if !CanManage(u) {
		c.Notes = ""
	}
	return &c
}

// QualificationInput is a qualification as typed: a kind (code or name,
// see Qualifications) and an optional expiry date "2027-06-30".
type QualificationInput struct {
	Kind    string `json:"kind"`
	Expires string `json:"expires,omitempty"`
}

// RegistrationForm is the public self-registration form (zh/en).
type RegistrationForm struct {
	Name  string `json:"name"`
	Phone string `json:"phone"`
	// Committee is the home committee's unit id; with an Address and no
	// committee, the gazetteer finds it.
	Committee      string               `json:"committee"`
	Address        string               `json:"address,omitempty"`
	Skills         []string             `json:"skills"`
	Qualifications []QualificationInput `json:"qualifications,omitempty"`
	Languages      []string             `json:"languages"`
	Availability   string               `json:"availability,omitempty"`
	Groups         []string             `json:"groups,omitempty"`
}

// Profile is what a social worker edits: the form's fields and their own.
type Profile struct {
	RegistrationForm
	Classification string `json:"classification,omitempty"`
	MaxTasks       int    `json:"max_tasks,omitempty"`
	Notes          string `json:"notes,omitempty"`
	// Version, when not 0, must still be the stored version: an editor
	// sends the version they read, so that a second editor's change is
	// not overwritten unseen (ECONFLICT).
	Version int64 `json:"version,omitempty"`
}

// Field limits.
const (
	MaxName    = 50
	MaxAddress = 200
	MaxNotes   = 2000
	maxList    = 20
)

// dateLayout is how expiry dates are written.
const dateLayout = "2006-01-02"

// apply validates p field by field and writes it onto v (all fields of
// the form; Classification, MaxTasks, Notes too when staff is set).
// Errors go to fe under the form's field names.
func (s *Service) apply(v *hotline.Volunteer, p Profile, staff bool, fe hotline.FieldErrors) {
	n := s.Directory.Network()
	cat := s.Directory.Catalogue()

	name := strings.TrimSpace(p.Name)
	switch {
	case name == "":
		fe.Add("name", "a name is required")
	case utf8.RuneCountInString(name) > MaxName:
		fe.Add("name", fmt.Sprintf("too long; use at most %d characters", MaxName))
	}
	v.Name = name

	if phone, err := intake.NormalizePhone(p.Phone); err != nil {
		fe.Add("phone", strings.TrimPrefix(hotline.ErrorMessage(err), "phone: "))
	} else {
		v.Phone = phone
	}

	addr := strings.TrimSpace(p.Address)
	if utf8.RuneCountInString(addr) > MaxAddress {
		fe.Add("address", fmt.Sprintf("too long; use at most %d characters", MaxAddress))
	}
	v.Address = addr
	committee := strings.TrimSpace(p.Committee)
	if committee == "" && addr != "" {
		if u, ok := n.CommitteeForAddress(addr); ok {
			committee = u.ID
		}
	}
	if u, ok := n.Unit(committee); !ok || u.Kind != hotline.KindCommittee {
		if committee == "" {
			fe.Add("committee", "choose your neighbourhood committee (or give an address on the street's roads)")
		} else {
			fe.Add("committee", fmt.Sprintf("unknown committee %q; choose one of the street's neighbourhood committees", clip(committee, 40)))
		}
	} else {
		v.Committee = u.ID
		// The committee's office stands in for the volunteer's home:
		// close enough on a street of 1.5 km², and no home address kept.
		v.Lat, v.Long = u.Lat, u.Long
	}

	v.Skills = nil
	for _, k := range p.Skills {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		if _, ok := cat.Find(k); !ok {
			fe.Add("skills", fmt.Sprintf("unknown service %q; use the codes of the service catalogue", clip(k, 40)))
			continue
		}
		if !slices.Contains(v.Skills, k) {
			v.Skills = append(v.Skills, k)
		}
	}
	if len(v.Skills) > maxList {
		fe.Add("skills", fmt.Sprintf("at most %d skills", maxList))
	}

	v.Qualifications = nil
	for _, q := range p.Qualifications {
		if strings.TrimSpace(q.Kind) == "" {
			continue
		}
		kind, ok := lookupTerm(Qualifications, q.Kind)
		if !ok {
			fe.Add("qualifications", fmt.Sprintf("unknown qualification %q; use one of %s", clip(q.Kind, 40), codes(Qualifications)))
			continue
		}
		var exp time.Time
		if e := strings.TrimSpace(q.Expires); e != "" {
			d, err := time.ParseInLocation(dateLayout, e, dispatch.Shanghai)
			if err != nil {
				fe.Add("qualifications", fmt.Sprintf("expiry %q of %s: write the date as 2027-06-30", clip(e, 20), kind))
				continue
			}
			// Valid through the whole expiry day, on Shanghai's clock.
			exp = d.AddDate(0, 0, 1).UTC()
		}
		v.Qualifications = slices.DeleteFunc(v.Qualifications, func(x hotline.Qualification) bool { return x.Kind == kind })
		v.Qualifications = append(v.Qualifications, hotline.Qualification{Kind: kind, Expires: exp})
	}

	v.Languages = nil
	for _, l := range p.Languages {
		if strings.TrimSpace(l) == "" {
			continue
		}
		code, ok := lookupTerm(Languages, l)
		if !ok {
			fe.Add("languages", fmt.Sprintf("unknown language %q; use one of %s", clip(l, 40), codes(Languages)))
			continue
		}
		if !slices.Contains(v.Languages, code) {
			v.Languages = append(v.Languages, code)
		}
	}
	if len(v.Languages) == 0 {
		fe.Add("languages", "give at least one language you speak, e.g. zh (Mandarin)")
	}

	v.Availability = strings.TrimSpace(p.Availability)
	if _, err := dispatch.ParseHours(v.Availability); err != nil {
		fe.Add("availability", hotline.ErrorMessage(err)+`; e.g. "mon-fri 18:00-21:00; sat 09:00-17:00", empty for any time`)
	}

	v.Groups = nil
	for _, g := range p.Groups {
		g = strings.TrimSpace(g)
		if g == "" {
			continue
		}
		if u, ok := n.Unit(g); !ok || u.Kind != hotline.KindVolunteerGroup {
			fe.Add("groups", fmt.Sprintf("unknown volunteer group %q; use the ids of the network's volunteer groups", clip(g, 40)))
			continue
		}
		if !slices.Contains(v.Groups, g) {
			v.Groups = append(v.Groups, g)
		}
	}

	if !staff {
		return
	}
	v.Classification = ""
	if c := strings.TrimSpace(p.Classification); c != "" {
		if code, ok := lookupTerm(Classifications, c); ok {
			v.Classification = code
		} else {
			fe.Add("classification", fmt.Sprintf("unknown class %q; use one of %s", clip(c, 40), codes(Classifications)))
		}
	}
	if p.MaxTasks < 0 || p.MaxTasks > 100 {
		fe.Add("max_tasks", "give a number of tasks from 0 (the default) to 100")
	}
	v.MaxTasks = p.MaxTasks
	v.Notes = strings.TrimSpace(p.Notes)
	if utf8.RuneCountInString(v.Notes) > MaxNotes {
		fe.Add("notes", fmt.Sprintf("too long; use at most %d characters", MaxNotes))
	}
}

func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// Register files the public self-registration form: validated field by
// field (EINVALID with one message per field), stored as applied with
// source "form". A phone already registered is ECONFLICT.
func (s *Service) Register(ctx context.Context, f RegistrationForm) (*hotline.Volunteer, error) {
	v := &hotline.Volunteer{Status: hotline.VolunteerApplied, Source: "form"}
	fe := hotline.FieldErrors{}
	s.apply(v, Profile{RegistrationForm: f}, false, fe)
	if err := fe.Err(); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	v.CreatedAt, v.UpdatedAt = now, now
	if err := s.Store.CreateVolunteer(ctx, v); err != nil {
		if hotline.ErrorCode(err) == hotline.ECONFLICT {
			return nil, hotline.Errorf(hotline.ECONFLICT,
				"this phone number is already registered as a volunteer; to change your details, call the community service center or ask your social worker")
		}
		return nil, err
	}
	s.logger().Info("volunteer registered", "volunteer_id", v.ID, "committee", v.Committee)
	return v, nil
}

// verbs name the actions in refusals.
var verbs = map[hotline.VolunteerStatus]string{
	hotline.VolunteerApproved:  "approve",
	hotline.VolunteerRejected:  "reject",
	hotline.VolunteerActive:    "activate",
	hotline.VolunteerSuspended: "suspend",
	hotline.VolunteerLeft:      "mark as left",
}

// move changes a volunteer's status under the workflow's rules; edit
// makes the change's other edits.
func (s *Service) move(ctx context.Context, u *hotline.User, id string, to hotline.VolunteerStatus, edit func(v *hotline.Volunteer)) (*hotline.Volunteer, error) {
	if !CanManage(u) {
		return nil, hotline.Errorf(hotline.EFORBIDDEN, "only social workers and administrators can %s volunteers", verbs[to])
	}
	now := s.now().UTC()
	v, err := s.Store.UpdateVolunteer(ctx, id, func(v *hotline.Volunteer) error {
		if !CanTransition(v.Status, to) {
			return refusal(v.Status, to)
		}
		v.Status = to
		v.UpdatedAt = now
		if edit != nil {
			edit(v)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.logger().Info("volunteer status", "volunteer_id", v.ID, "status", v.Status, "by", u.ID)
	return v, nil
}

// refusal explains why a status change does not fit.
func refusal(from, to hotline.VolunteerStatus) error {
	var why string
	switch from {
	case hotline.VolunteerApplied:
		why = "an application is first approved or rejected"
	case hotline.VolunteerRejected:
		why = "the application was rejected; a new application starts again"
	case hotline.VolunteerLeft:
		why = "they have left; register them again to bring them back"
	default:
		var next []string
		for _, t := range transitions[from] {
			next = append(next, string(t))
		}
		why = "from " + string(from) + " they can only become " + strings.Join(next, ", ")
	}
	return hotline.Errorf(hotline.ECONFLICT, "cannot %s a volunteer who is %s: %s", verbs[to], from, why)
}

// note appends a dated line to the social worker's notes.
func note(v *hotline.Volunteer, at time.Time, line string) {
	l := at.In(dispatch.Shanghai).Format(dateLayout) + " " + line
	if v.Notes != "" {
		v.Notes += "\n"
	}
	v.Notes = clip(v.Notes+l, MaxNotes)
}

// Approve accepts an application and classifies the volunteer (one of
// Classifications). Errors: EFORBIDDEN, EINVALID, ENOTFOUND, ECONFLICT.
func (s *Service) Approve(ctx context.Context, u *hotline.User, id, classification string) (*hotline.Volunteer, error) {
	class, ok := lookupTerm(Classifications, classification)
	if CanManage(u) && !ok {
		fe := hotline.FieldErrors{}
		fe.Add("classification", "choose a class: "+codes(Classifications))
		return nil, fe.Err()
	}
	return s.move(ctx, u, id, hotline.VolunteerApproved, func(v *hotline.Volunteer) { v.Classification = class })
}

// Reject turns an application down; the reason is kept in the notes.
func (s *Service) Reject(ctx context.Context, u *hotline.User, id, reason string) (*hotline.Volunteer, error) {
	reason = strings.TrimSpace(reason)
	if CanManage(u) && reason == "" {
		fe := hotline.FieldErrors{}
		fe.Add("reason", "say why the application is rejected")
		return nil, fe.Err()
	}
	return s.move(ctx, u, id, hotline.VolunteerRejected, func(v *hotline.Volunteer) {
		note(v, s.now(), "不予通过 / rejected: "+clip(reason, 500))
	})
}

// Activate makes an approved (or suspended) volunteer active.
func (s *Service) Activate(ctx context.Context, u *hotline.User, id string) (*hotline.Volunteer, error) {
	return s.move(ctx, u, id, hotline.VolunteerActive, nil)
}

// Suspend takes a volunteer out of matching; the reason is kept in the
// notes.
func (s *Service) Suspend(ctx context.Context, u *hotline.User, id, reason string) (*hotline.Volunteer, error) {
	reason = strings.TrimSpace(reason)
	if CanManage(u) && reason == "" {
		fe := hotline.FieldErrors{}
		fe.Add("reason", "say why the volunteer is suspended")
		return nil, fe.Err()
	}
	return s.move(ctx, u, id, hotline.VolunteerSuspended, func(v *hotline.Volunteer) {
		note(v, s.now(), "暂停 / suspended: "+clip(reason, 500))
	})
}

// MarkLeft records that a volunteer has left the registry.
func (s *Service) MarkLeft(ctx context.Context, u *hotline.User, id string) (*hotline.Volunteer, error) {
	return s.move(ctx, u, id, hotline.VolunteerLeft, nil)
}

// UpdateProfile replaces a volunteer's profile (every field of p), checked
// as the form is. Errors: EFORBIDDEN, EINVALID, ENOTFOUND, ECONFLICT (the
// phone is another volunteer's, or p.Version moved on).
func (s *Service) UpdateProfile(ctx context.Context, u *hotline.User, id string, p Profile) (*hotline.Volunteer, error) {
	if !CanManage(u) {
		return nil, hotline.Errorf(hotline.EFORBIDDEN, "only social workers and administrators can edit volunteers")
	}
	now := s.now().UTC()
	return s.Store.UpdateVolunteer(ctx, id, func(v *hotline.Volunteer) error {
		// Checked here, on the very copy the store then writes: the store
		// retries on a concurrent write, so a check before the call would
		// race.
		if p.Version != 0 && v.Version != p.Version {
			return hotline.Errorf(hotline.ECONFLICT, "volunteer %s was changed by someone else meanwhile; reload and try again", v.ID)
		}
		fe := hotline.FieldErrors{}
		s.apply(v, p, true, fe)
		if err := fe.Err(); err != nil {
			return err
		}
		v.UpdatedAt = now
		return nil
	})
}

// Get returns volunteer id as u may see it (View). Staff of any role may
// read the registry; volunteers may not.
func (s *Service) Get(ctx context.Context, u *hotline.User, id string) (*hotline.Volunteer, error) {
	if u == nil || u.Role == hotline.RoleVolunteer {
		return nil, hotline.Errorf(hotline.EFORBIDDEN, "only staff can read the volunteer registry")
	}
	v, err := s.Store.FindVolunteer(ctx, id)
	if err != nil {
		return nil, err
	}
	return View(u, v), nil
}

// List returns the volunteers f selects as u may see them, and the total.
func (s *Service) List(ctx context.Context, u *hotline.User, f hotline.VolunteerFilter) ([]*hotline.Volunteer, int, error) {
	if u == nil || u.Role == hotline.RoleVolunteer {
		return nil, 0, hotline.Errorf(hotline.EFORBIDDEN, "only staff can read the volunteer registry")
	}
	vs, total, err := s.Store.FindVolunteers(ctx, f)
	if err != nil {
		return nil, 0, err
	}
	out := make([]*hotline.Volunteer, len(vs))
	for i, v := range vs {
		out[i] = View(u, v)
	}
	return out, total, nil
}
