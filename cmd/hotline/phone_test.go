package main

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/simulator"
)

// The whole phone line as `hotline serve` wires it on the trial store: a
// resident calls through the simulator (signed webhooks), leaves a need in
// Mandarin, gets the ticket number read back and by SMS (the outbox sender
// through twilio-go's REST client, to the fake Twilio API inside the
// process); the unit accepts and resolves it; the resident is told each
// time (the notifier on the feed's consumer group), asked to rate it, and
// rates it by SMS.
func TestPhoneLineFromCallToRating(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the rating request, sent 10 s after the resolution")
	}
	m := MustRunMain(t)
	c := &http.Client{Timeout: 10 * time.Second}
	base := m.URL()
	const caller = "+8613900139000"

	var call simulator.Call
	if resp := postJSON(t, c, base+"/sim/calls", map[string]string{"from": caller}, nil, &call); resp.StatusCode != http.StatusCreated {
		t.Fatalf("dial: %d %s", resp.StatusCode, call.Error)
	}
	if !strings.Contains(joinPrompts(call.Prompts), "110") {
		t.Errorf("the greeting does not point emergencies to 110: %s", joinPrompts(call.Prompts))
	}
	sid := call.SID
	for _, in := range []map[string]string{
		{"digits": "1"}, // Mandarin
		{"digits": "4"}, // 公共设施
		{"digits": "3"}, // committee 3 (c03)
		{"speech": "楼道的灯坏了三天了"}, // the need
		{"digits": "#"}, // nothing to add after the beep
	} {
		call = simulator.Call{}
		if resp := postJSON(t, c, base+"/sim/calls/"+url.PathEscape(sid)+"/input", in, nil, &call); resp.StatusCode != http.StatusOK {
			t.Fatalf("input %v: %d %s", in, resp.StatusCode, call.Error)
		}
	}
	if len(call.TicketIDs) != 1 {
		t.Fatalf("after the call: tickets %v, prompts %s", call.TicketIDs, joinPrompts(call.Prompts))
	}
	id := call.TicketIDs[0]
	spaced := strings.Join(strings.Split(id, ""), " ")
	if !strings.Contains(joinPrompts(call.Prompts), spaced) {
		t.Errorf("the number %s is not read back digit by digit: %s", id, joinPrompts(call.Prompts))
	}

	waitSMS(t, c, base, caller, id, "工单号")
	ctx := context.Background()
	tk, err := m.Server.Tickets.FindTicket(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Channel != hotline.ChannelVoice || tk.Location.Committee != "c03" || tk.ServiceCode != "facilities" {
		t.Errorf("ticket %+v: want a voice ticket for facilities in c03", tk)
	}

	admin := &hotline.User{ID: "u-admin", Username: "admin", Role: hotline.RoleAdmin}
	if _, err := m.Dispatch.Accept(ctx, admin, id); err != nil {
		t.Fatal(err)
	}
	waitSMS(t, c, base, caller, id, "受理")

	// The unit needs a detail: the question goes by SMS, the answer comes
	// back to the ticket as a note.
	if _, err := m.Dispatch.Ask(ctx, admin, id, "请问是几号楼？"); err != nil {
		t.Fatal(err)
	}
	waitSMS(t, c, base, caller, id, "请问是几号楼？")
	var answer simulator.SMSResult
	postJSON(t, c, base+"/sim/sms", map[string]string{"from": caller, "body": "12号楼602室"}, nil, &answer)
	evs, err := m.Server.Tickets.TicketEvents(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(evs, func(e *hotline.Event) bool {
		return e.Type == hotline.EventTicketNoted && strings.Contains(e.Note, "12号楼602室")
	}) {
		t.Errorf("the resident's answer is not on the ticket; replies %+v", answer.Replies)
	}
	if _, err := m.Dispatch.Resolve(ctx, admin, id, "已更换楼道灯"); err != nil {
		t.Fatal(err)
	}
	waitSMS(t, c, base, caller, id, "已更换楼道灯")
	waitSMS(t, c, base, caller, id, "打分") // the rating request

	var sms simulator.SMSResult
	if resp := postJSON(t, c, base+"/sim/sms", map[string]string{"from": caller, "body": "5 很满意，谢谢"}, nil, &sms); resp.StatusCode != http.StatusOK {
		t.Fatalf("rating SMS: %d", resp.StatusCode)
	}
	rated, err := m.Server.Tickets.FindTicket(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if rated.Satisfaction != 5 {
		t.Errorf("satisfaction = %d after the resident replied 5; replies %+v", rated.Satisfaction, sms.Replies)
	}
}

func joinPrompts(ps []simulator.Prompt) string {
	var s []string
	for _, p := range ps {
		s = append(s, p.Text)
	}
	return strings.Join(s, " | ")
}

// waitSMS waits until the phone has received, through Twilio's REST API,
// an SMS about ticket id that contains want.
func waitSMS(t *testing.T, c *http.Client, base, phone, id, want string) {
	t.Helper()
	waitInbox(t, c, base, phone, id, want)
}
