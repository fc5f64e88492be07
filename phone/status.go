package phone

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/intake"
)

// messageStatuses maps Twilio's MessageStatus values the outbox keeps;
// the in-between ones (queued, sending, accepted) are not recorded.
var messageStatuses = map[string]hotline.MessageStatus{
	"sent":        hotline.MessageSent,
	"delivered":   hotline.MessageDelivered,
	"read":        hotline.MessageDelivered,
	"undelivered": hotline.MessageUndelivered,
	"failed":      hotline.MessageFailed,
}

// callEnded lists the final CallStatus values: the call is over.
var callEnded = map[string]bool{
	"completed": true, "busy": true, "no-answer": true, "failed": true, "canceled": true,
}

// handleStatus takes call and message status callbacks.
func (l *Line) handleStatus(ctx context.Context, r *http.Request, form url.Values) (reply, error) {
	if ms := firstOf(form, "MessageStatus", "SmsStatus"); ms != "" {
		sid := firstOf(form, "MessageSid", "SmsSid")
		if !sidOK(sid) {
			return reply{}, invalid("MessageSid is missing or malformed")
		}
		st, ok := messageStatuses[strings.ToLower(ms)]
		if !ok {
			return reply{}, nil
		}
		code := form.Get("ErrorCode")
		if len(code) > 16 {
			code = code[:16]
		}
		err := l.d.Outbox.RecordStatus(ctx, sid, st, code)
		if err != nil && hotline.ErrorCode(err) != hotline.ENOTFOUND {
			return reply{}, err
		}
		return reply{}, nil
	}
	sid := form.Get("CallSid")
	if !sidOK(sid) {
		return reply{}, invalid("give CallSid and CallStatus, or MessageSid and MessageStatus")
	}
	cs := strings.ToLower(form.Get("CallStatus"))
	if !callEnded[cs] || strings.HasPrefix(form.Get("Direction"), "outbound") {
		return reply{}, nil
	}
	err := l.callOver(ctx, sid, cs, form)
	if hotline.ErrorCode(err) == hotline.EUNAVAILABLE && l.d.Journal != nil {
		// Twilio does not call again: the journal keeps the call until
		// the store answers, and its replay files the callback ticket.
		from := normalizeFrom(form.Get("From"))
		if from != "" && l.d.Journal.Append(JournalEntry{Kind: JournalCall, At: l.now().UTC(), CallSid: sid,
			From: from, To: form.Get("To"), Step: "status", CallStatus: cs}) == nil {
			return reply{}, nil
		}
	}
	return reply{}, err
}

func firstOf(form url.Values, keys ...string) string {
	for _, k := range keys {
		if v := form.Get(k); v != "" {
			return v
		}
	}
	return ""
}

// callOver makes sure no caller is lost: a call that ended without a
// ticket (missed, busy, hung up in the menu) becomes a callback ticket
// with the caller's number, once per CallSid.
func (l *Line) callOver(ctx context.Context, sid, status string, form url.Values) error {
	var ct callTicket
	if ok, err := l.d.Sessions.Load(ctx, callTicketKey(sid), &ct); err != nil {
		return err
	} else if ok && ct.TicketID != "" {
		return nil
	}
	st, found, err := l.loadCall(ctx, sid)
	if err != nil {
		return err
	}
	if !found {
		st = call{From: normalizeFrom(form.Get("From")), Lang: "zh"}
	}
	if st.TicketID != "" {
		return nil
	}
	if st.From == "" {
		l.log.Warn("phone: a call without a usable number ended before a ticket; nobody to call back", "call", sid, "status", status)
		return nil
	}
	sub := intake.Submission{
		Channel: hotline.ChannelVoice, ServiceCode: l.category(l.cfg.CallbackCategory),
		Description: l.callbackDescription(st, status), Address: st.Address, Phone: st.From,
		Consent: true, Language: st.Lang, MediaURL: st.RecordingURL, ExternalRef: sid, Actor: Actor,
	}
	t, err := l.fileCall(ctx, sid, &st, sub)
	if err != nil {
		return err
	}
	if found {
		if err := l.saveCall(ctx, sid, st); err != nil {
			return err
		}
	}
	l.log.Info("phone: callback ticket for an unfinished call", "call", sid, "ticket", t.ID,
		"status", status, "from", hotline.MaskPhone(st.From))
	return nil
}

// handleRecording keeps a finished recording's URL on the call's ticket,
// or in the call's state when the ticket is not filed yet (the last step
// or the callback ticket then takes it).
func (l *Line) handleRecording(ctx context.Context, r *http.Request, form url.Values) (reply, error) {
	sid := form.Get("CallSid")
	if !sidOK(sid) {
		return reply{}, invalid("CallSid is missing or malformed")
	}
	if s := form.Get("RecordingStatus"); s != "" && s != "completed" {
		return reply{}, nil
	}
	rec := form.Get("RecordingUrl")
	if !usableURL(rec) {
		return reply{}, invalid("RecordingUrl must be an http or https link")
	}
	err := l.keepRecording(ctx, sid, rec, form.Get("RecordingSid"))
	if hotline.ErrorCode(err) == hotline.EUNAVAILABLE && l.d.Journal != nil &&
		l.d.Journal.Append(JournalEntry{Kind: JournalCall, At: l.now().UTC(), CallSid: sid,
			Step: "recording", RecordingURL: rec}) == nil {
		return reply{}, nil
	}
	return reply{}, err
}

// keepRecording puts the recording on the call's ticket, or in the call's
// state until the ticket is filed.
func (l *Line) keepRecording(ctx context.Context, sid, rec, recSid string) error {
	id, err := l.ticketOfCall(ctx, sid)
	if err != nil {
		return err
	}
	if id == "" {
		st, found, err := l.loadCall(ctx, sid)
		if err != nil {
			return err
		}
		if found && st.RecordingURL != rec {
			st.RecordingURL = rec
			if err := l.saveCall(ctx, sid, st); err != nil {
				return err
			}
		}
		// The ticket may have been filed meanwhile, without the URL.
		if id, err = l.ticketOfCall(ctx, sid); err != nil || id == "" {
			return err
		}
	}
	return l.attachRecording(ctx, id, rec, recSid)
}

func (l *Line) ticketOfCall(ctx context.Context, sid string) (string, error) {
	var ct callTicket
	if _, err := l.d.Sessions.Load(ctx, callTicketKey(sid), &ct); err != nil {
		return "", err
	}
	return ct.TicketID, nil
}

// attachRecording sets the ticket's media URL to the recording, or notes
// the recording when the ticket has another one; doing it twice changes
// nothing.
func (l *Line) attachRecording(ctx context.Context, id, rec, recSid string) error {
	t, err := l.d.Tickets.FindTicket(ctx, id)
	if err != nil {
		return err
	}
	if t.MediaURL == rec {
		return nil
	}
	if t.MediaURL != "" {
		key := "recording:" + recSid
		if recSid == "" || !sidOK(recSid) {
			key = "recording:" + shortHash(rec)
		}
		first, release, err := l.once(ctx, key)
		if err != nil || !first {
			return err
		}
		_, err = l.d.Tickets.UpdateTicket(ctx, id, func(t *hotline.Ticket) (*hotline.Event, error) {
			return &hotline.Event{Type: hotline.EventTicketNoted, Actor: Actor, Note: "来电录音 / call recording: " + rec}, nil
		})
		if err != nil {
			release()
		}
		return err
	}
	_, err = l.d.Tickets.UpdateTicket(ctx, id, func(t *hotline.Ticket) (*hotline.Event, error) {
		if t.MediaURL != "" {
			return nil, errUnchanged
		}
		t.MediaURL = rec
		return &hotline.Event{Type: hotline.EventTicketUpdated, Actor: Actor, UnitID: t.UnitID,
			Note: "来电录音 / call recording: " + rec}, nil
	})
	if errors.Is(err, errUnchanged) {
		return nil
	}
	return err
}
