package volunteers

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/caojiadu/hotline"
)

// Tasking: a ticket's task offered to volunteers by SMS, their answer by
// SMS, the next match when they decline or do not answer in time, and the
// hours recorded when the ticket is resolved.
//
// The life of an assignment:
//
//	Assign (staff or a group lead) ─▶ offered ──"1"──▶ accepted ──ticket resolved──▶ done (hours)
//	                                     │ "2"            └──ticket cancelled/merged──▶ withdrawn
//	                                     ├──────▶ declined ─┐
//	                                     └─RespondBy passed─▶ expired ─┴─▶ the next match is offered
//
// Texts go through the outbox of the phone line (Kind KindTask, keys
// "task:<assignment id>:<what>", so each is sent once however often a step
// runs). The offer names the category, the area (committee and road) and
// the ticket number, never the resident; the resident's name, number,
// address and description are texted only once the volunteer accepts.

// KindTask is the outbox kind of every text to a volunteer.
const KindTask = "volunteer_task"

// ActorSystem is the assigner of the follow-up offers made when a
// volunteer declines or lets an offer pass.
const ActorSystem = "system"

// Defaults of the Tasker's tuning fields.
const (
	// DefaultOfferTTL is how long a volunteer has to answer an offer.
	DefaultOfferTTL = 2 * time.Hour
	// DefaultMaxHours caps the hours one task records: acceptance to
	// resolution may span a night, the volunteer's work does not.
	DefaultMaxHours = 8.0
	// DefaultExpiryEvery is how often RunExpiry looks for passed offers.
	DefaultExpiryEvery = 30 * time.Second
	// expiryLease hides a claimed offer from other replicas while one
	// handles it (an update and an offer: well under a second).
	expiryLease = time.Minute
	// expiryBatch is the most offers one ExpireOnce claims.
	expiryBatch = 50
	// awaitGrace keeps a number's awaited answers this long after the last
	// RespondBy, so a late "1" is told the offer passed rather than taken
	// for a new request.
	awaitGrace = 24 * time.Hour
	// nextClaimTTL is how long the "next match offered after this
	// assignment" claim is kept: far longer than any redelivery.
	nextClaimTTL = 30 * 24 * time.Hour
	// maxAssign bounds the volunteers one Assign call offers a task to.
	maxAssign = 10
	// matchLimit is how many suggestions the next-match step asks for.
	matchLimit = 20
)

// TicketFinder is the part of hotline.TicketStore the Tasker reads.
type TicketFinder interface {
	// FindTicket returns a ticket by id. Errors: ENOTFOUND, EUNAVAILABLE.
	FindTicket(ctx context.Context, id string) (*hotline.Ticket, error)
}

// Tasker offers tasks to volunteers and keeps their assignments. It is a
// separate type from Service (the registry, whose fields it reads through
// Registry: Store, Assignments, Directory, Now, Logger, and Match) so
// that tasking's own dependencies, the phone line's outbox and sessions,
// stay out of the registry. Set the fields before the first call; the
// zero tuning fields mean the defaults. Safe for concurrent use.
type Tasker struct {
	// Registry is the volunteer registry; its Assignments must be set.
	Registry *Service
	Tickets  TicketFinder
	// Outbox takes the taskTexts to volunteers (sent by notify.Sender).
	Outbox hotline.Outbox
	// Sessions records which numbers await an answer (AwaitKey).
	Sessions hotline.PhoneSessions
	// Audit records the resident's details texted to a volunteer who
	// accepts a task, before the text is queued (a disclosure, as a full
	// read on the board is). Nil records nothing: set it wherever real
	// residents' details are sent.
	Audit hotline.AuditLog

	// OfferTTL is how long a volunteer has to answer (0: DefaultOfferTTL).
	OfferTTL time.Duration
	// MaxHours caps the hours of one task (0: DefaultMaxHours).
	MaxHours float64
	// ExpiryEvery is RunExpiry's pause between looks (0: DefaultExpiryEvery).
	ExpiryEvery time.Duration
}

func (tk *Tasker) offerTTL() time.Duration {
	if tk.OfferTTL > 0 {
		return tk.OfferTTL
	}
	return DefaultOfferTTL
}

func (tk *Tasker) maxHours() float64 {
	if tk.MaxHours > 0 {
		return tk.MaxHours
	}
	return DefaultMaxHours
}

func (tk *Tasker) network() *hotline.Network {
	if tk.Registry.Directory == nil {
		return &hotline.Network{}
	}
	return tk.Registry.Directory.Network()
}

func (tk *Tasker) catalogue() *hotline.Catalogue {
	if tk.Registry.Directory == nil {
		return &hotline.Catalogue{}
	}
	return tk.Registry.Directory.Catalogue()
}

// AwaitKey is the PhoneSessions key under which a volunteer's number
// awaits answers to offers: "sms:task:" and the number in E.164.
func AwaitKey(phone string) string { return "sms:task:" + phone }

// Awaiting is what AwaitKey holds: the number's recent offers, newest
// last, each kept until a day after its RespondBy whether answered or not,
// so that a repeated or late "1" is answered about the task (the same
// reply, or that it passed) rather than taken for a resident's message.
// It only tells HandleSMS that the number's "1" or "2" is an answer; the
// assignments' state is read from the assignment store.
type Awaiting struct {
	Offers []AwaitedOffer `json:"offers"`
}

// AwaitedOffer is one offer awaiting the number's answer.
type AwaitedOffer struct {
	AssignmentID string    `json:"assignment_id"`
	TicketID     string    `json:"ticket_id"`
	RespondBy    time.Time `json:"respond_by"`
}

func taskSignIn() error { return hotline.Errorf(hotline.EUNAUTHORIZED, "please sign in") }

func taskTicketNotFound() error { return hotline.Errorf(hotline.ENOTFOUND, "no such ticket") }

// canActOn is dispatch's rule for acting on a ticket (dispatch/action.go,
// check and canAct, unexported there): the user sees the ticket and is an
// admin, or staff of the responsible unit or a unit above it (street-tier
// staff for a ticket not yet placed). Volunteers act on nothing.
func canActOn(u *hotline.User, n *hotline.Network, t *hotline.Ticket) error {
	if !u.CanSeeTicket(n, t) {
		return taskTicketNotFound()
	}
	if u.Role == hotline.RoleVolunteer {
		return hotline.Errorf(hotline.EFORBIDDEN, "volunteers cannot assign tasks; ask your group's lead")
	}
	if u.Role == hotline.RoleAdmin {
		return nil
	}
	if u.UnitID != "" {
		if t.UnitID == "" {
			if own, ok := n.Unit(u.UnitID); ok && own.Tier >= hotline.TierStreet {
				return nil
			}
		} else if n.Within(t.UnitID, u.UnitID) {
			return nil
		}
	}
	return hotline.Errorf(hotline.EFORBIDDEN, "only the responsible unit (%s) or the units above it may assign volunteers to this ticket", t.UnitID)
}

// leadOf returns the volunteer group u leads: the group's staff account is
// a user of role committee whose unit is the group (see the package doc).
func leadOf(u *hotline.User, n *hotline.Network) (string, bool) {
	if u == nil || u.Role != hotline.RoleCommittee || u.UnitID == "" {
		return "", false
	}
	unit, ok := n.Unit(u.UnitID)
	return unit.ID, ok && unit.Kind == hotline.KindVolunteerGroup
}

// Assign offers ticketID's task to each of volunteerIDs (at most 10, in
// that order): an offered assignment answerable for OfferTTL and a text
// with the task. Who may: staff who may act on the ticket (dispatch's
// rule: admins, the responsible unit and the units above it), which
// includes a group's lead for a ticket held by their group; a lead may
// assign only the members of their group. Every volunteer is checked
// before anything is written. Errors: EUNAUTHORIZED, ENOTFOUND (ticket or
// volunteer), EFORBIDDEN, EINVALID (no volunteers, too many), ECONFLICT
// (ticket closed, volunteer not matchable or already holding an open
// assignment on it), EUNAVAILABLE.
func (tk *Tasker) Assign(ctx context.Context, u *hotline.User, ticketID string, volunteerIDs []string) ([]*hotline.Assignment, error) {
	if u == nil {
		return nil, taskSignIn()
	}
	if u.Role == hotline.RoleVolunteer {
		return nil, hotline.Errorf(hotline.EFORBIDDEN, "volunteers cannot assign tasks; ask your group's lead")
	}
	ids := compactIDs(volunteerIDs)
	switch {
	case len(ids) == 0:
		return nil, hotline.Errorf(hotline.EINVALID, "choose at least one volunteer")
	case len(ids) > maxAssign:
		return nil, hotline.Errorf(hotline.EINVALID, "at most %d volunteers at once (got %d)", maxAssign, len(ids))
	}
	if !hotline.ValidTicketID(ticketID) {
		return nil, taskTicketNotFound()
	}
	t, err := tk.Tickets.FindTicket(ctx, ticketID)
	if hotline.ErrorCode(err) == hotline.ENOTFOUND {
		return nil, taskTicketNotFound()
	} else if err != nil {
		return nil, err
	}
	n := tk.network()
	if err := canActOn(u, n, t); err != nil {
		return nil, err
	}
	if !t.Status.Open() || t.MergedInto != "" {
		return nil, hotline.Errorf(hotline.ECONFLICT, "ticket %s is %s; volunteers are assigned only to open tickets", t.ID, t.Status)
	}
	group, isLead := leadOf(u, n)
	existing, err := tk.Registry.Assignments.TicketAssignments(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	vols := make([]*hotline.Volunteer, 0, len(ids))
	for _, id := range ids {
		v, err := tk.Registry.Store.FindVolunteer(ctx, id)
		if hotline.ErrorCode(err) == hotline.ENOTFOUND {
			return nil, hotline.Errorf(hotline.ENOTFOUND, "no volunteer %s", id)
		} else if err != nil {
			return nil, err
		}
		if isLead && !slices.Contains(v.Groups, group) {
			return nil, hotline.Errorf(hotline.EFORBIDDEN, "a group's lead assigns only the group's members; %s is not in %s", v.ID, group)
		}
		if !v.Status.Matchable() {
			return nil, hotline.Errorf(hotline.ECONFLICT, "volunteer %s is %s; only approved and active volunteers take tasks", v.ID, v.Status)
		}
		if v.Phone == "" {
			return nil, hotline.Errorf(hotline.ECONFLICT, "volunteer %s has no phone number to text the task to", v.ID)
		}
		for _, a := range existing {
			if a.VolunteerID == v.ID && a.Status.Open() {
				return nil, hotline.Errorf(hotline.ECONFLICT, "volunteer %s already holds this task (assignment %s, %s)", v.ID, a.ID, a.Status)
			}
		}
		vols = append(vols, v)
	}
	out := make([]*hotline.Assignment, 0, len(vols))
	for _, v := range vols {
		a, err := tk.offer(ctx, t, v, u.ID, "")
		if err != nil {
			return out, err
		}
		out = append(out, a)
	}
	return out, nil
}

func compactIDs(ids []string) []string {
	var out []string
	for _, id := range ids {
		id = strings.TrimSpace(id)
		if id != "" && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// offer creates one offered assignment, taskTexts it and records that the
// volunteer's number awaits the answer.
func (tk *Tasker) offer(ctx context.Context, t *hotline.Ticket, v *hotline.Volunteer, by, reason string) (*hotline.Assignment, error) {
	now := tk.Registry.now().UTC()
	a := &hotline.Assignment{
		TicketID: t.ID, VolunteerID: v.ID, Status: hotline.AssignmentOffered, By: by, Reason: reason,
		OfferedAt: now, RespondBy: now.Add(tk.offerTTL()),
		Category: t.ServiceCode, Committee: t.Location.Committee,
	}
	if err := tk.Registry.Assignments.CreateAssignment(ctx, a); err != nil {
		return nil, err
	}
	lang := volunteerLang(v)
	m := &hotline.OutboundMessage{
		Key: "task:" + a.ID + ":offer", To: v.Phone, TicketID: t.ID, Kind: KindTask,
		Body: offerText(lang, t.ID, tk.categoryName(t.ServiceCode, lang), tk.area(t, lang), tk.offerTTL()),
	}
	// The number awaits the answer before the text can reach it.
	err := tk.await(ctx, v.Phone, a)
	if err == nil {
		_, err = tk.Outbox.Enqueue(ctx, m)
	}
	if err != nil {
		// An offer nobody was told of would hold the volunteer until it
		// expired: take it back, so that assigning again works.
		if _, werr := tk.withdraw(context.WithoutCancel(ctx), a.ID, nil); werr != nil {
			tk.Registry.logger().Warn("volunteers: cannot take back an offer that was not sent", "assignment", a.ID, "err", werr)
		}
		return nil, err
	}
	tk.Registry.logger().Info("volunteers: task offered", "ticket", t.ID, "assignment", a.ID, "volunteer", v.ID, "by", by)
	return a, nil
}

// await adds a to the offers the number awaits an answer to. Two offers
// to one number at the same instant may each save a list without the
// other: harmless, since the list only says that the number's answers
// are answers (HandleSMS reads the offers from the store).
func (tk *Tasker) await(ctx context.Context, phone string, a *hotline.Assignment) error {
	var w Awaiting
	if _, err := tk.Sessions.Load(ctx, AwaitKey(phone), &w); err != nil {
		return err
	}
	now := tk.Registry.now()
	w.Offers = slices.DeleteFunc(w.Offers, func(o AwaitedOffer) bool {
		return o.AssignmentID == a.ID || now.After(o.RespondBy.Add(awaitGrace))
	})
	w.Offers = append(w.Offers, AwaitedOffer{AssignmentID: a.ID, TicketID: a.TicketID, RespondBy: a.RespondBy})
	return tk.saveAwaiting(ctx, phone, w)
}

func (tk *Tasker) saveAwaiting(ctx context.Context, phone string, w Awaiting) error {
	if len(w.Offers) == 0 {
		return tk.Sessions.Delete(ctx, AwaitKey(phone))
	}
	var last time.Time
	for _, o := range w.Offers {
		if o.RespondBy.After(last) {
			last = o.RespondBy
		}
	}
	ttl := last.Add(awaitGrace).Sub(tk.Registry.now())
	if ttl < time.Second {
		return tk.Sessions.Delete(ctx, AwaitKey(phone))
	}
	return tk.Sessions.Save(ctx, AwaitKey(phone), w, ttl)
}

// HandleSMS takes a text from a volunteer's number as the answer to an
// offer, when the number awaits one (AwaitKey) and the text is an answer:
// "1", "接受", "yes", "y" accept; "2", "婉拒", "拒绝", "no", "n" decline
// (full-width digits too). The answer applies to the newest open offer,
// unless it names the ticket ("1 160035"). Accepting taskTexts the resident's
// contact; declining offers the task to the next match. reply is the text
// to answer with; handled is false when the message is not for tasking
// (the phone line then treats it as it would any other). Answering the
// same way again (a Twilio retry, a second "1") changes nothing and gets
// the same reply. Errors: EUNAVAILABLE, EINTERNAL.
func (tk *Tasker) HandleSMS(ctx context.Context, from, body string) (string, bool, error) {
	if from == "" {
		return "", false, nil
	}
	var w Awaiting
	found, err := tk.Sessions.Load(ctx, AwaitKey(from), &w)
	if err != nil || !found || len(w.Offers) == 0 {
		return "", false, err
	}
	accept, ticketID, ok := parseAnswer(body)
	if !ok {
		return "", false, nil
	}
	v, err := tk.Registry.Store.FindVolunteerByPhone(ctx, from)
	if hotline.ErrorCode(err) == hotline.ENOTFOUND {
		return "", false, tk.Sessions.Delete(ctx, AwaitKey(from))
	} else if err != nil {
		return "", false, err
	}
	lang := volunteerLang(v)
	all, err := tk.Registry.Assignments.VolunteerAssignments(ctx, v.ID)
	if err != nil {
		return "", false, err
	}
	// The newest offer still open (the list is newest first), or, when
	// none is, the newest answered the same way: a repeated answer.
	var target *hotline.Assignment
	for _, a := range all {
		if ticketID != "" && a.TicketID != ticketID {
			continue
		}
		if a.Status == hotline.AssignmentOffered {
			target = a
			break
		}
	}
	if target == nil {
		// No open offer: the answer is about the newest assignment. The
		// same answer again gets the same reply (a second "1"); any other
		// is told how things stand.
		for _, a := range all {
			if ticketID != "" && a.TicketID != ticketID {
				continue
			}
			switch {
			case (accept && a.Status == hotline.AssignmentAccepted) || (!accept && a.Status == hotline.AssignmentDeclined):
				target = a
			case a.Status == hotline.AssignmentAccepted || a.Status == hotline.AssignmentDeclined:
				return taskText(lang, txtAnswered, a.TicketID), true, nil
			default:
				return taskText(lang, txtPassed, a.TicketID), true, nil
			}
			break
		}
	}
	if target == nil {
		if ticketID != "" {
			return taskText(lang, txtNoSuchOffer, ticketID), true, nil
		}
		return taskText(lang, txtNothingOpen), true, nil
	}
	if accept {
		return tk.accept(ctx, v, target, lang)
	}
	return tk.decline(ctx, v, target, lang)
}

// errNotOffered aborts an answer to an assignment that is no longer an offer.
var errNotOffered = errors.New("volunteers: not an offer any more")

func (tk *Tasker) accept(ctx context.Context, v *hotline.Volunteer, a *hotline.Assignment, lang string) (string, bool, error) {
	t, err := tk.Tickets.FindTicket(ctx, a.TicketID)
	if err != nil && hotline.ErrorCode(err) != hotline.ENOTFOUND {
		return "", false, err
	}
	if err != nil || !t.Status.Open() || t.MergedInto != "" {
		// Nobody needs the task any more: take the offer back.
		if _, err := tk.withdraw(ctx, a.ID, nil); err != nil {
			return "", false, err
		}
		return taskText(lang, txtNoLongerNeeded, a.TicketID), true, nil
	}
	now := tk.Registry.now().UTC()
	got, err := tk.Registry.Assignments.UpdateAssignment(ctx, a.ID, func(x *hotline.Assignment) error {
		switch x.Status {
		case hotline.AssignmentAccepted:
			return nil // answered already: the same reply, nothing new
		case hotline.AssignmentOffered:
			x.Status, x.AnsweredAt = hotline.AssignmentAccepted, now
			return nil
		}
		return errNotOffered
	})
	if errors.Is(err, errNotOffered) {
		return taskText(lang, txtPassed, a.TicketID), true, nil
	} else if err != nil {
		return "", false, err
	}
	if v.Status == hotline.VolunteerApproved {
		// An approved volunteer becomes active with their first accepted task.
		_, err := tk.Registry.Store.UpdateVolunteer(ctx, v.ID, func(x *hotline.Volunteer) error {
			if x.Status == hotline.VolunteerApproved {
				x.Status = hotline.VolunteerActive
			}
			return nil
		})
		if err != nil && hotline.ErrorCode(err) != hotline.ENOTFOUND {
			return "", false, err
		}
	}
	if err := tk.recordContact(ctx, v, t); err != nil {
		return "", false, err
	}
	m := &hotline.OutboundMessage{
		Key: "task:" + got.ID + ":contact", To: v.Phone, TicketID: t.ID, Kind: KindTask,
		Body: contactText(lang, t),
	}
	if _, err := tk.Outbox.Enqueue(ctx, m); err != nil {
		return "", false, err
	}
	tk.Registry.logger().Info("volunteers: task accepted", "ticket", t.ID, "assignment", got.ID, "volunteer", v.ID)
	return taskText(lang, txtAccepted, t.ID), true, nil
}

func (tk *Tasker) decline(ctx context.Context, v *hotline.Volunteer, a *hotline.Assignment, lang string) (string, bool, error) {
	now := tk.Registry.now().UTC()
	got, err := tk.Registry.Assignments.UpdateAssignment(ctx, a.ID, func(x *hotline.Assignment) error {
		switch x.Status {
		case hotline.AssignmentDeclined:
			return nil
		case hotline.AssignmentOffered:
			x.Status, x.AnsweredAt = hotline.AssignmentDeclined, now
			return nil
		}
		return errNotOffered
	})
	if errors.Is(err, errNotOffered) {
		return taskText(lang, txtPassed, a.TicketID), true, nil
	} else if err != nil {
		return "", false, err
	}
	tk.Registry.logger().Info("volunteers: task declined", "ticket", got.TicketID, "assignment", got.ID, "volunteer", v.ID)
	// Declined now or by an earlier delivery that failed before this
	// step: offerNext's claim makes it happen once either way.
	if err := tk.offerNext(ctx, got); err != nil {
		return "", false, err
	}
	return taskText(lang, txtDeclined, got.TicketID), true, nil
}

// offerNext offers the task of after (declined or expired) to the best
// match not yet offered it, once per after: a claim in the sessions makes
// a redelivered answer or a second expiry runner a no-op. No match left
// is logged, not an error.
func (tk *Tasker) offerNext(ctx context.Context, after *hotline.Assignment) error {
	_, first, err := tk.Sessions.Remember(ctx, "volunteers:next:"+after.ID, []byte("1"), nextClaimTTL)
	if err != nil || !first {
		return err
	}
	release := func() { _ = tk.Sessions.Delete(context.WithoutCancel(ctx), "volunteers:next:"+after.ID) }
	t, err := tk.Tickets.FindTicket(ctx, after.TicketID)
	if hotline.ErrorCode(err) == hotline.ENOTFOUND {
		return nil
	} else if err != nil {
		release()
		return err
	}
	if !t.Status.Open() || t.MergedInto != "" {
		return nil
	}
	all, err := tk.Registry.Assignments.TicketAssignments(ctx, t.ID)
	if err != nil {
		release()
		return err
	}
	tried := map[string]bool{}
	for _, a := range all {
		tried[a.VolunteerID] = true
	}
	sugg, err := tk.Registry.Match(ctx, t, tk.Registry.now(), matchLimit+len(tried))
	if code := hotline.ErrorCode(err); code == hotline.EINVALID || code == hotline.ENOTFOUND {
		// Nothing to match on (no location): staff assign by hand.
		tk.Registry.logger().Info("volunteers: cannot look for a further volunteer", "ticket", t.ID, "err", err)
		return nil
	} else if err != nil {
		release()
		return err
	}
	for _, s := range sugg {
		if s.Volunteer == nil || tried[s.Volunteer.ID] || s.Volunteer.Phone == "" || !s.Volunteer.Status.Matchable() {
			continue
		}
		_, err := tk.offer(ctx, t, s.Volunteer, ActorSystem, s.Reason)
		if hotline.ErrorCode(err) == hotline.ECONFLICT {
			continue // offered meanwhile by someone else
		}
		if err != nil {
			release()
		}
		return err
	}
	tk.Registry.logger().Info("volunteers: no further volunteer to offer the task to", "ticket", t.ID, "after", after.ID)
	return nil
}

// withdraw ends an open assignment (the ticket no longer needs it) and
// reports whether it was accepted, so the caller can tell the volunteer.
// A closed one is left as it is. keep, when not nil, decides per status.
func (tk *Tasker) withdraw(ctx context.Context, id string, keep func(hotline.AssignmentStatus) bool) (bool, error) {
	wasAccepted := false
	now := tk.Registry.now().UTC()
	_, err := tk.Registry.Assignments.UpdateAssignment(ctx, id, func(x *hotline.Assignment) error {
		wasAccepted = x.Status == hotline.AssignmentAccepted
		if !x.Status.Open() || (keep != nil && keep(x.Status)) {
			return errNotOffered
		}
		x.Status = hotline.AssignmentWithdrawn
		if x.AnsweredAt.IsZero() {
			x.AnsweredAt = now
		}
		return nil
	})
	if errors.Is(err, errNotOffered) {
		return false, nil
	}
	return wasAccepted, err
}

// ExpireOnce ends the offers whose RespondBy passed (claimed with a lease,
// so each is handled by one replica) and offers each one's task to the
// next match. It returns how many it expired; failures are logged and the
// offer comes back after the lease.
func (tk *Tasker) ExpireOnce(ctx context.Context) int {
	now := tk.Registry.now()
	due, err := tk.Registry.Assignments.ClaimExpired(ctx, now, expiryLease, expiryBatch)
	if err != nil {
		if ctx.Err() == nil {
			tk.Registry.logger().Warn("volunteers: cannot claim passed offers", "err", err)
		}
		return 0
	}
	n := 0
	for _, a := range due {
		expired, err := tk.expire(ctx, a, now)
		if err != nil {
			tk.Registry.logger().Warn("volunteers: cannot expire an offer; it comes back after the lease", "assignment", a.ID, "err", err)
			continue
		}
		if expired {
			n++
		}
	}
	return n
}

func (tk *Tasker) expire(ctx context.Context, a *hotline.Assignment, now time.Time) (bool, error) {
	// The next match is offered before the offer is marked expired: should
	// that fail, the offer stays due and comes back after the lease, and
	// offerNext's claim keeps a second round from offering twice.
	cur, err := tk.Registry.Assignments.FindAssignment(ctx, a.ID)
	if hotline.ErrorCode(err) == hotline.ENOTFOUND {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if cur.Status != hotline.AssignmentOffered || now.Before(cur.RespondBy) {
		return false, nil // answered meanwhile
	}
	if err := tk.offerNext(ctx, cur); err != nil {
		return false, err
	}
	got, err := tk.Registry.Assignments.UpdateAssignment(ctx, a.ID, func(x *hotline.Assignment) error {
		if x.Status != hotline.AssignmentOffered || now.Before(x.RespondBy) {
			return errNotOffered
		}
		x.Status = hotline.AssignmentExpired
		return nil
	})
	if errors.Is(err, errNotOffered) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	tk.Registry.logger().Info("volunteers: offer expired", "ticket", got.TicketID, "assignment", got.ID, "volunteer", got.VolunteerID)
	return true, nil
}

// RunExpiry calls ExpireOnce every ExpiryEvery until ctx ends, then
// returns nil. Run it on every replica: claims keep each expiry to one.
func (tk *Tasker) RunExpiry(ctx context.Context) error {
	every := tk.ExpiryEvery
	if every <= 0 {
		every = DefaultExpiryEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		for tk.ExpireOnce(ctx) >= expiryBatch && ctx.Err() == nil {
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Handler returns Handle bound to ctx, in the shape a feed consumer takes:
// feed.Consume(ctx, "volunteers", consumer, tk.Handler(ctx)).
func (tk *Tasker) Handler(ctx context.Context) func(hotline.FeedEvent) error {
	return func(e hotline.FeedEvent) error { return tk.Handle(ctx, e) }
}

// Handle follows a ticket's life: when it is resolved, its accepted
// assignments become done with their hours (Hours) and its offers are
// withdrawn; when it is cancelled, closed or merged into another, every
// open assignment is withdrawn and the volunteers who had accepted are
// told. Idempotent (it changes only open assignments), so the feed may
// deliver an event twice. It returns an error only when the event should
// be handled again.
func (tk *Tasker) Handle(ctx context.Context, e hotline.FeedEvent) error {
	ev := e.Event
	if ev == nil {
		return nil
	}
	switch ev.Type {
	case hotline.EventTicketResolved, hotline.EventTicketCancelled, hotline.EventTicketClosed, hotline.EventTicketMerged:
	default:
		return nil
	}
	as, err := tk.Registry.Assignments.TicketAssignments(ctx, ev.TicketID)
	if err != nil || len(as) == 0 {
		return err
	}
	at := ev.At
	if at.IsZero() {
		at = tk.Registry.now()
	}
	for _, a := range as {
		if !a.Status.Open() {
			continue
		}
		if ev.Type == hotline.EventTicketResolved && a.Status == hotline.AssignmentAccepted {
			if err := tk.complete(ctx, a.ID, at); err != nil {
				return err
			}
			continue
		}
		wasAccepted, err := tk.withdraw(ctx, a.ID, nil)
		if err != nil {
			return err
		}
		if wasAccepted {
			if err := tk.tellWithdrawn(ctx, a); err != nil {
				return err
			}
		}
	}
	return nil
}

// tellWithdrawn texts the volunteer who had accepted a that the task is
// no longer theirs (once per assignment: the outbox key).
func (tk *Tasker) tellWithdrawn(ctx context.Context, a *hotline.Assignment) error {
	v, err := tk.Registry.Store.FindVolunteer(ctx, a.VolunteerID)
	if hotline.ErrorCode(err) == hotline.ENOTFOUND || (err == nil && v.Phone == "") {
		return nil
	} else if err != nil {
		return err
	}
	m := &hotline.OutboundMessage{Key: "task:" + a.ID + ":withdrawn", To: v.Phone, TicketID: a.TicketID,
		Kind: KindTask, Body: taskText(volunteerLang(v), txtWithdrawn, a.TicketID)}
	_, err = tk.Outbox.Enqueue(ctx, m)
	return err
}

// Withdraw takes an open task back from its volunteer: an offer not yet
// answered, or a task accepted (the volunteer is told by SMS). The next
// match is not offered: staff withdrew it on purpose, and assign again
// if they want. Who may: as for Assign (a group's lead for their group's
// members). Errors: EUNAUTHORIZED, ENOTFOUND, EFORBIDDEN, ECONFLICT (the
// task is no longer open), EUNAVAILABLE.
func (tk *Tasker) Withdraw(ctx context.Context, u *hotline.User, assignmentID string) (*hotline.Assignment, error) {
	if u == nil {
		return nil, taskSignIn()
	}
	if u.Role == hotline.RoleVolunteer {
		return nil, hotline.Errorf(hotline.EFORBIDDEN, "volunteers decline a task by replying 2 to its text")
	}
	notFound := hotline.Errorf(hotline.ENOTFOUND, "no such assignment")
	a, err := tk.Registry.Assignments.FindAssignment(ctx, assignmentID)
	if hotline.ErrorCode(err) == hotline.ENOTFOUND {
		return nil, notFound
	} else if err != nil {
		return nil, err
	}
	t, err := tk.Tickets.FindTicket(ctx, a.TicketID)
	if hotline.ErrorCode(err) == hotline.ENOTFOUND {
		return nil, notFound
	} else if err != nil {
		return nil, err
	}
	n := tk.network()
	if err := canActOn(u, n, t); err != nil {
		if hotline.ErrorCode(err) == hotline.ENOTFOUND {
			return nil, notFound
		}
		return nil, err
	}
	if group, isLead := leadOf(u, n); isLead {
		v, err := tk.Registry.Store.FindVolunteer(ctx, a.VolunteerID)
		if err != nil && hotline.ErrorCode(err) != hotline.ENOTFOUND {
			return nil, err
		}
		if v == nil || !slices.Contains(v.Groups, group) {
			return nil, hotline.Errorf(hotline.EFORBIDDEN, "a group's lead withdraws only the tasks of the group's members")
		}
	}
	if !a.Status.Open() {
		return nil, hotline.Errorf(hotline.ECONFLICT, "assignment %s is already %s", a.ID, a.Status)
	}
	wasAccepted, err := tk.withdraw(ctx, a.ID, nil)
	if err != nil {
		return nil, err
	}
	if wasAccepted {
		if err := tk.tellWithdrawn(ctx, a); err != nil {
			return nil, err
		}
	}
	a, err = tk.Registry.Assignments.FindAssignment(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	if a.Status != hotline.AssignmentWithdrawn {
		return nil, hotline.Errorf(hotline.ECONFLICT, "assignment %s became %s meanwhile", a.ID, a.Status)
	}
	return a, nil
}

// complete marks an accepted assignment done at resolution time with its
// hours.
func (tk *Tasker) complete(ctx context.Context, id string, resolved time.Time) error {
	_, err := tk.Registry.Assignments.UpdateAssignment(ctx, id, func(x *hotline.Assignment) error {
		if x.Status != hotline.AssignmentAccepted {
			return errNotOffered
		}
		x.Status, x.DoneAt = hotline.AssignmentDone, resolved.UTC()
		x.Hours = TaskHours(x.AnsweredAt, resolved, tk.maxHours())
		return nil
	})
	if errors.Is(err, errNotOffered) {
		return nil
	}
	return err
}

// TaskHours is the hours a task records: the time from acceptance to the
// ticket's resolution, capped at maxHours, rounded to the nearest half
// hour and at least half an hour (a task taken counts, however quick).
// Accepted 09:10, resolved 11:20: 2 h 10 min → 2.0; resolved the next
// morning with an 8 h cap: 8.0.
func TaskHours(accepted, resolved time.Time, maxHours float64) float64 {
	h := resolved.Sub(accepted).Hours()
	if accepted.IsZero() || h < 0 {
		h = 0
	}
	h = min(h, maxHours)
	h = math.Round(h*2) / 2
	return max(h, 0.5)
}

// SetHours corrects the hours of a done assignment (0 to 24, kept to the
// half hour). Who may: admins, social workers, and staff who may act on
// the ticket (its responsible unit and above, a group lead for a ticket
// of their group). Errors: EUNAUTHORIZED, ENOTFOUND, EFORBIDDEN, EINVALID,
// ECONFLICT (not done), EUNAVAILABLE.
func (tk *Tasker) SetHours(ctx context.Context, u *hotline.User, assignmentID string, hours float64) (*hotline.Assignment, error) {
	if u == nil {
		return nil, taskSignIn()
	}
	if u.Role == hotline.RoleVolunteer {
		return nil, hotline.Errorf(hotline.EFORBIDDEN, "volunteers cannot change hours; ask your group's lead")
	}
	if math.IsNaN(hours) || hours < 0 || hours > 24 {
		fe := hotline.FieldErrors{}
		fe.Add("hours", "give the hours of the task, from 0 to 24 (half hours: 1.5)")
		return nil, fe.Err()
	}
	a, err := tk.Registry.Assignments.FindAssignment(ctx, assignmentID)
	if err != nil {
		return nil, err
	}
	if u.Role != hotline.RoleAdmin && u.Role != hotline.RoleSocialWorker {
		t, err := tk.Tickets.FindTicket(ctx, a.TicketID)
		if hotline.ErrorCode(err) == hotline.ENOTFOUND {
			return nil, hotline.Errorf(hotline.ENOTFOUND, "no such assignment")
		} else if err != nil {
			return nil, err
		}
		if err := canActOn(u, tk.network(), t); err != nil {
			if hotline.ErrorCode(err) == hotline.ENOTFOUND {
				return nil, hotline.Errorf(hotline.ENOTFOUND, "no such assignment")
			}
			return nil, err
		}
	}
	hours = math.Round(hours*2) / 2
	return tk.Registry.Assignments.UpdateAssignment(ctx, assignmentID, func(x *hotline.Assignment) error {
		if x.Status != hotline.AssignmentDone {
			return hotline.Errorf(hotline.ECONFLICT, "assignment %s is %s; hours are recorded once the ticket is resolved", x.ID, x.Status)
		}
		x.Hours = hours
		return nil
	})
}

// VolunteerFor returns the volunteer a user of role volunteer signs in
// as. Usernames allow no '+', so a volunteer's account is named by their
// mobile number: the 11 national digits ("13800138000") or the E.164
// digits ("8613800138000"); the volunteer with that number is theirs.
// Errors: ENOTFOUND (not a volunteer account, or no such volunteer),
// EUNAVAILABLE.
func (tk *Tasker) VolunteerFor(ctx context.Context, u *hotline.User) (*hotline.Volunteer, error) {
	return volunteerFor(ctx, tk.Registry.Store, u)
}

func volunteerFor(ctx context.Context, store hotline.VolunteerStore, u *hotline.User) (*hotline.Volunteer, error) {
	phone := UsernamePhone(u)
	if phone == "" {
		return nil, hotline.Errorf(hotline.ENOTFOUND, "this account is not linked to a volunteer; its username must be the volunteer's mobile number")
	}
	v, err := store.FindVolunteerByPhone(ctx, phone)
	if hotline.ErrorCode(err) == hotline.ENOTFOUND {
		return nil, hotline.Errorf(hotline.ENOTFOUND, "no volunteer is registered with this account's mobile number")
	}
	return v, err
}

// UsernamePhone is the E.164 number a volunteer account's username stands
// for (see VolunteerFor), "" when u is not such an account.
func UsernamePhone(u *hotline.User) string {
	if u == nil || u.Role != hotline.RoleVolunteer {
		return ""
	}
	d := u.Username
	for _, r := range d {
		if r < '0' || r > '9' {
			return ""
		}
	}
	switch {
	case len(d) == 11 && d[0] == '1':
		return "+86" + d
	case len(d) >= 8 && len(d) <= 15 && d[0] != '0':
		return "+" + d
	}
	return ""
}

// CanSeeTicketAsVolunteer is the privacy rule for a volunteer's account:
// they see a ticket only while it is or was their task (offered, accepted
// or done), and the resident's details only while their assignment is
// accepted (not on the offer, not once done). For any other role both are
// false: staff are checked with hotline.User.CanSeeTicket. Errors:
// EUNAVAILABLE (volunteer not found counts as seeing nothing).
func (tk *Tasker) CanSeeTicketAsVolunteer(ctx context.Context, u *hotline.User, ticketID string) (see, details bool, err error) {
	if u == nil || u.Role != hotline.RoleVolunteer {
		return false, false, nil
	}
	v, err := tk.VolunteerFor(ctx, u)
	if hotline.ErrorCode(err) == hotline.ENOTFOUND {
		return false, false, nil
	} else if err != nil {
		return false, false, err
	}
	as, err := tk.Registry.Assignments.TicketAssignments(ctx, ticketID)
	if err != nil {
		return false, false, err
	}
	for _, a := range as {
		if a.VolunteerID != v.ID {
			continue
		}
		switch a.Status {
		case hotline.AssignmentAccepted:
			return true, true, nil
		case hotline.AssignmentOffered, hotline.AssignmentDone:
			see = true
		}
	}
	return see, false, nil
}

// The taskTexts.

// volunteerLang is "en" for a volunteer who speaks English and not
// Mandarin, "zh" otherwise.
func volunteerLang(v *hotline.Volunteer) string {
	if slices.Contains(v.Languages, "en") && !slices.Contains(v.Languages, "zh") {
		return "en"
	}
	return "zh"
}

func (tk *Tasker) categoryName(code, lang string) string {
	if c, ok := tk.catalogue().Find(code); ok {
		return c.Name(lang)
	}
	return code
}

// area names where the task is without naming the resident: the
// committee, and the road of the address when the gazetteer knows it (no
// house number). Sensitive categories give the committee only.
func (tk *Tasker) area(t *hotline.Ticket, lang string) string {
	n := tk.network()
	name := ""
	if u, ok := n.Unit(t.Location.Committee); ok {
		name = u.Name(lang)
	}
	if c, ok := tk.catalogue().Find(t.ServiceCode); ok && c.Sensitive {
		return name
	}
	addr := strings.ReplaceAll(t.Location.Address, " ", "")
	for _, g := range n.Gazetteer {
		if g.Road != "" && strings.Contains(addr, g.Road) {
			if name == "" {
				return g.Road
			}
			return name + "（" + g.Road + "）"
		}
	}
	if name == "" {
		if lang == "en" {
			return "in the street"
		}
		return "本街道"
	}
	return name
}

const (
	txtOffer = iota
	txtAccepted
	txtDeclined
	txtPassed
	txtNoLongerNeeded
	txtNothingOpen
	txtNoSuchOffer
	txtWithdrawn
	txtContact
	txtNoContact
	txtAnswered
)

var taskTexts = map[string][]string{
	"zh": {
		txtOffer:          "【社区服务热线】志愿任务：工单 %s，%s，地点：%s。回复 1 接受，2 婉拒（请在 %s内回复；有多个任务时可回复“1 %s”）。",
		txtAccepted:       "【社区服务热线】谢谢！您已接受工单 %s 的任务，居民的联系方式随后另发短信。",
		txtDeclined:       "【社区服务热线】已收到：您婉拒了工单 %s 的任务，谢谢告知。",
		txtPassed:         "【社区服务热线】工单 %s 的任务已过答复时限或已由他人承担，谢谢！",
		txtNoLongerNeeded: "【社区服务热线】工单 %s 已不再需要志愿服务，谢谢！",
		txtNothingOpen:    "【社区服务热线】您目前没有待答复的志愿任务。",
		txtNoSuchOffer:    "【社区服务热线】没有找到工单 %s 的待答复任务。",
		txtWithdrawn:      "【社区服务热线】工单 %s 已撤销或已合并，您的志愿任务取消，请勿再前往。谢谢！",
		txtContact:        "【社区服务热线】工单 %s 居民：%s，电话 %s，地址：%s。需求：%s 请尽快联系居民，完成后告知社区。",
		txtNoContact:      "【社区服务热线】工单 %s 未留居民联系方式，地址：%s。需求：%s 请与社区联系安排。",
		txtAnswered:       "【社区服务热线】您已答复过工单 %s 的任务；如有变化，请直接联系社区。",
	},
	"en": {
		txtOffer:          "Community hotline volunteer task: ticket %s, %s, at %s. Reply 1 to accept, 2 to decline (within %s; with several tasks, reply \"1 %s\").",
		txtAccepted:       "Community hotline: thank you! You accepted ticket %s; the resident's contact follows in another text.",
		txtDeclined:       "Community hotline: noted, you declined ticket %s. Thank you for telling us.",
		txtPassed:         "Community hotline: the task of ticket %s has passed its answer time or been taken. Thank you!",
		txtNoLongerNeeded: "Community hotline: ticket %s no longer needs a volunteer. Thank you!",
		txtNothingOpen:    "Community hotline: you have no task waiting for your answer.",
		txtNoSuchOffer:    "Community hotline: no task of ticket %s is waiting for your answer.",
		txtWithdrawn:      "Community hotline: ticket %s was cancelled or merged; your task is called off, please do not go. Thank you!",
		txtContact:        "Community hotline, ticket %s resident: %s, phone %s, address: %s. Need: %s Please contact them soon and tell the committee when done.",
		txtNoContact:      "Community hotline: ticket %s left no contact; address: %s. Need: %s Please ask the committee.",
		txtAnswered:       "Community hotline: you already answered about ticket %s; if anything changed, please call the committee.",
	},
}

func taskText(lang string, id int, args ...any) string {
	t, ok := taskTexts[lang]
	if !ok {
		t = taskTexts["zh"]
	}
	return fmt.Sprintf(t[id], args...)
}

func offerText(lang, ticketID, category, area string, ttl time.Duration) string {
	return taskText(lang, txtOffer, ticketID, category, area, taskDuration(lang, ttl), ticketID)
}

func taskDuration(lang string, d time.Duration) string {
	h := d.Hours()
	if lang == "en" {
		if h >= 1 && h == math.Trunc(h) {
			return fmt.Sprintf("%d h", int(h))
		}
		return fmt.Sprintf("%d min", int(d.Minutes()))
	}
	if h >= 1 && h == math.Trunc(h) {
		return fmt.Sprintf("%d 小时", int(h))
	}
	return fmt.Sprintf("%d 分钟", int(d.Minutes()))
}

// AuditContactVia is the door an audit entry names for the contact text.
const AuditContactVia = "sms:task-contact"

// recordContact records that contactText tells v the resident's phone and
// address. A volunteer may have no account, so the entry names them by
// their registry id. A retried answer records again: twice is safe, never
// is not.
func (tk *Tasker) recordContact(ctx context.Context, v *hotline.Volunteer, t *hotline.Ticket) error {
	if tk.Audit == nil {
		return nil
	}
	var fields []string
	if t.Contact.Phone != "" {
		fields = append(fields, hotline.AuditPhone)
	}
	if t.Location.Address != "" {
		fields = append(fields, hotline.AuditAddress)
	}
	if len(fields) == 0 {
		return nil
	}
	return tk.Audit.RecordRead(ctx, &hotline.AuditEntry{UserID: "volunteer:" + v.ID, Username: v.Name,
		Role: hotline.RoleVolunteer, UnitID: v.Committee, TicketID: t.ID, Fields: fields, Via: AuditContactVia})
}

// taskDescRunes is how much of the description the contact text quotes.
const taskDescRunes = 70

func contactText(lang string, t *hotline.Ticket) string {
	desc := strings.Join(strings.Fields(t.Description), " ")
	if utf8.RuneCountInString(desc) > taskDescRunes {
		desc = string([]rune(desc)[:taskDescRunes-1]) + "…"
	}
	addr := t.Location.Address
	if addr == "" {
		addr = "—"
	}
	if t.Contact.Phone == "" {
		return taskText(lang, txtNoContact, t.ID, addr, desc)
	}
	name := t.Contact.Name()
	if name == "" {
		name = "—"
	}
	return taskText(lang, txtContact, t.ID, name, t.Contact.Phone, addr, desc)
}

// Answers a volunteer may text, by what they mean.
var (
	acceptWords  = []string{"接受", "accept", "yes", "同意", "1", "y"}
	declineWords = []string{"婉拒", "拒绝", "decline", "no", "不行", "2", "n"}
)

// parseAnswer reads "1", "２", "接受", "yes", "1 160035", "婉拒 160035":
// the answer, and the ticket it names if any. A word must stand alone:
// "12" and "note" are not answers.
func parseAnswer(body string) (accept bool, ticketID string, ok bool) {
	s := strings.ToLower(strings.TrimSpace(taskFoldWidth(body)))
	s = strings.TrimRight(s, ".!。！ ")
	for _, set := range []struct {
		words  []string
		accept bool
	}{{acceptWords, true}, {declineWords, false}} {
		for _, w := range set.words {
			rest, found := strings.CutPrefix(s, w)
			if !found {
				continue
			}
			if rest != "" {
				// What follows must be a separator, or a ticket number
				// after a word: "好久没修" and "12" are no answers.
				r, _ := utf8.DecodeRuneInString(rest)
				wordDigit := w[0] >= '0' && w[0] <= '9'
				if !strings.ContainsRune(" ,，:：#", r) && (wordDigit || !unicode.IsDigit(r)) {
					continue
				}
			}
			rest = strings.TrimLeft(rest, " ,，:：#")
			var digits strings.Builder
			for _, r := range rest {
				if r < '0' || r > '9' {
					break
				}
				digits.WriteRune(r)
			}
			if d := digits.String(); d != "" {
				if !hotline.ValidTicketID(d) {
					return false, "", false
				}
				ticketID = d
			}
			return set.accept, ticketID, true
		}
	}
	return false, "", false
}

// foldWidth maps full-width ASCII (what Chinese input methods type) to
// ASCII.
func taskFoldWidth(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= '！' && r <= '～':
			return r - '！' + '!'
		case r == '\u3000':
			return ' '
		}
		return r
	}, s)
}
