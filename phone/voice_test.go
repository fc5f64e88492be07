package phone_test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/phone"
)

const recording = "https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Recordings/RE0123456789abcdef0123456789abcdef"

// A whole call: greeting, menu, a wrong key, the category by voice, the
// committee by keypad, the description, the recording, the ticket number
// read back and sent by SMS; then a second call from the same number,
// category by keypad, whose committee is known from the first.
func TestCall_Whole(t *testing.T) {
	st := MustStreet(t)
	const sid = "CA00000000000000000000000000000001"

	// The call comes in.
	n := MustTwiML(t, st.Post(t, phone.PathVoice, callForm(sid, "13812345678", "CallStatus", "ringing")))
	said := n.Said()
	for _, want := range []string{"110", "120", "119", "press 9"} {
		if !strings.Contains(said, want) {
			t.Errorf("greeting does not say %q:\n%s", want, said)
		}
	}
	if g := n.All("Gather"); len(g) != 1 || g[0].Attr("numDigits") != "1" {
		t.Fatalf("greeting should gather one key")
	}
	next := Next(t, n)
	if step(t, next) != "menu" || !strings.HasPrefix(next, publicURL+phone.PathVoice) {
		t.Fatalf("greeting goes on to %q", next)
	}

	// No key: Mandarin, the category menu.
	n = MustTwiML(t, st.Post(t, next, callForm(sid, "+8613812345678", "Digits", "")))
	said = n.Said()
	if !strings.Contains(said, "按1，助餐送餐") || strings.Contains(said, "回电") {
		t.Errorf("menu should list the categories by number and leave out callback:\n%s", said)
	}
	g := n.All("Gather")[0]
	if g.Attr("input") != "dtmf speech" || g.Attr("language") != "cmn-CN" {
		t.Errorf("category gather: input %q language %q", g.Attr("input"), g.Attr("language"))
	}
	for _, s := range n.All("Say") {
		if s.Attr("language") != "cmn-CN" {
			t.Errorf("Say in %q, want cmn-CN", s.Attr("language"))
		}
	}

	// A key that is no category: asked again, on a new URL.
	first := Next(t, n)
	n = MustTwiML(t, st.Post(t, first, callForm(sid, "+8613812345678", "Digits", "99")))
	again := Next(t, n)
	if step(t, again) != "category" || again == first || !strings.Contains(n.Said(), "没有听清") {
		t.Fatalf("a wrong key should ask again: next %q, said %q", again, n.Said())
	}

	// The category said instead.
	n = MustTwiML(t, st.Post(t, again, callForm(sid, "+8613812345678", "SpeechResult", "楼道灯坏了", "Confidence", "0.92")))
	if said := n.Said(); !strings.Contains(said, "公共设施") || !strings.Contains(said, "居委会的编号") {
		t.Fatalf("after the category the committee is asked:\n%s", said)
	}
	next = Next(t, n)
	if step(t, next) != "committee" {
		t.Fatalf("next %q", next)
	}

	// Committee 7 on the keypad (c07 in the demo).
	n = MustTwiML(t, st.Post(t, next, callForm(sid, "+8613812345678", "Digits", "7")))
	if !strings.Contains(n.Said(), "长寿路居委会") {
		t.Errorf("committee 7 should be read back:\n%s", n.Said())
	}
	if g := n.All("Gather"); len(g) != 1 || g[0].Attr("input") != "speech" {
		t.Fatalf("description should be gathered by speech")
	}
	next = Next(t, n)

	// The description.
	n = MustTwiML(t, st.Post(t, next, callForm(sid, "+8613812345678", "SpeechResult", "三楼楼道灯坏了一个星期", "Confidence", "0.88")))
	rec := n.All("Record")
	if len(rec) != 1 || rec[0].Attr("recordingStatusCallback") != publicURL+phone.PathRecording || rec[0].Attr("playBeep") != "true" {
		t.Fatalf("a recording should follow, reported to /twilio/recording")
	}
	next = Next(t, n)
	if step(t, next) != "record" {
		t.Fatalf("next %q", next)
	}
	if got := st.CountTickets(t); got != 0 {
		t.Fatalf("%d tickets before the call ends", got)
	}

	// The recording ends: the ticket is filed and its number read twice.
	recForm := callForm(sid, "+8613812345678", "RecordingUrl", recording, "RecordingDuration", "7", "Digits", "#")
	w := st.Post(t, next, recForm)
	n = MustTwiML(t, w)
	tk := st.MustTicket(t, sid)
	if tk.Channel != hotline.ChannelVoice || tk.ServiceCode != "facilities" || tk.Contact.Phone != resident ||
		!tk.Contact.Consent || tk.Description != "三楼楼道灯坏了一个星期" || tk.MediaURL != recording ||
		tk.Location.Committee != "c07" || tk.CreatedBy != "twilio" || tk.Language != "zh" {
		t.Errorf("ticket: %+v", tk)
	}
	if tk.Status != hotline.StatusRouted || tk.UnitID != "c07" {
		t.Errorf("ticket should be routed to c07: %s %s (%s)", tk.Status, tk.UnitID, tk.RouteReason)
	}
	digits := strings.Join(strings.Split(tk.ID, ""), " ")
	if c := strings.Count(n.Said(), digits); c != 2 {
		t.Errorf("ticket number %q read %d times:\n%s", digits, c, n.Said())
	}
	if len(n.All("Hangup")) != 1 {
		t.Errorf("the call should end")
	}
	msgs, err := st.Outbox.MessagesTo(context.Background(), resident, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].Kind != "ticket_number" || msgs[0].Key != "ticket:"+tk.ID+":ticket_number" ||
		msgs[0].TicketID != tk.ID || !strings.Contains(msgs[0].Body, tk.ID) {
		t.Fatalf("ticket number SMS: %+v", msgs)
	}

	// Twilio retries the last step: the same bytes, still one ticket.
	if w2 := st.Post(t, next, recForm); !bytes.Equal(w2.Body.Bytes(), w.Body.Bytes()) {
		t.Errorf("a retry got another answer:\n%s\n%s", w.Body, w2.Body)
	}
	// The call ends and the recording is reported: nothing more.
	if w := st.Post(t, phone.PathStatus, callForm(sid, "+8613812345678", "CallStatus", "completed", "CallDuration", "95")); w.Code >= 300 {
		t.Fatalf("status callback: %d %s", w.Code, w.Body)
	}
	recCB := callForm(sid, "+8613812345678", "RecordingSid", "RE0123456789abcdef0123456789abcdef",
		"RecordingUrl", recording, "RecordingStatus", "completed", "RecordingDuration", "7")
	if w := st.Post(t, phone.PathRecording, recCB); w.Code >= 300 {
		t.Fatalf("recording callback: %d %s", w.Code, w.Body)
	}
	if got := st.CountTickets(t); got != 1 {
		t.Fatalf("%d tickets after the call, want 1", got)
	}
	if again := st.MustTicket(t, sid); again.Version != tk.Version {
		t.Errorf("the recording callback changed the ticket (version %d → %d)", tk.Version, again.Version)
	}

	// A second call from the same number: the committee is known.
	const sid2 = "CA00000000000000000000000000000002"
	n = MustTwiML(t, st.Post(t, phone.PathVoice, callForm(sid2, "+8613812345678")))
	n = MustTwiML(t, st.Post(t, Next(t, n), callForm(sid2, "+8613812345678", "Digits", "")))
	n = MustTwiML(t, st.Post(t, Next(t, n), callForm(sid2, "+8613812345678", "Digits", "3")))
	if said := n.Said(); !strings.Contains(said, "居家维修") || !strings.Contains(said, "长寿路居委会") || strings.Contains(said, "居委会的编号") {
		t.Errorf("the known committee should be said, not asked:\n%s", said)
	}
	if step(t, Next(t, n)) != "describe" {
		t.Fatalf("the description should come next")
	}
	n = MustTwiML(t, st.Post(t, Next(t, n), callForm(sid2, "+8613812345678", "SpeechResult", "厨房水龙头漏水")))
	// Nothing recorded: Twilio skips the action and follows the Redirect.
	redirect := n.All("Redirect")[0].Text
	n = MustTwiML(t, st.Post(t, redirect, callForm(sid2, "+8613812345678")))
	tk2 := st.MustTicket(t, sid2)
	if tk2.ServiceCode != "home_repair" || tk2.Location.Committee != "c07" || tk2.MediaURL != "" {
		t.Errorf("second ticket: %+v", tk2)
	}
}

func TestCall_English(t *testing.T) {
	st := MustStreet(t)
	const sid = "CA00000000000000000000000000000010"
	n := MustTwiML(t, st.Post(t, phone.PathVoice, callForm(sid, "+8613812345678")))
	n = MustTwiML(t, st.Post(t, Next(t, n), callForm(sid, "+8613812345678", "Digits", "9")))
	said := n.Said()
	if !strings.Contains(said, "1, Meal delivery for older people") || !strings.Contains(said, "110") {
		t.Errorf("English menu:\n%s", said)
	}
	for _, s := range n.All("Say") {
		if s.Attr("language") != "en-US" {
			t.Errorf("Say in %q", s.Attr("language"))
		}
	}
	next := Next(t, n)
	if u, _ := url.Parse(next); u.Query().Get("lang") != "en" {
		t.Fatalf("next %q should carry lang=en", next)
	}
	// Said as a number.
	n = MustTwiML(t, st.Post(t, next, callForm(sid, "+8613812345678", "SpeechResult", "Number eight.")))
	if !strings.Contains(n.Said(), "Legal advice") {
		t.Errorf("said 'eight':\n%s", n.Said())
	}
	// An address instead of a committee number.
	n = MustTwiML(t, st.Post(t, Next(t, n), callForm(sid, "+8613812345678", "SpeechResult", "长寿路178号")))
	if !strings.Contains(n.Said(), "Changshou Road Neighbourhood Committee") {
		t.Errorf("address placed:\n%s", n.Said())
	}
	n = MustTwiML(t, st.Post(t, Next(t, n), callForm(sid, "+8613812345678", "SpeechResult", "My landlord will not return my deposit")))
	n = MustTwiML(t, st.Post(t, Next(t, n), callForm(sid, "+8613812345678", "RecordingUrl", recording, "RecordingDuration", "3")))
	tk := st.MustTicket(t, sid)
	if tk.Language != "en" || tk.ServiceCode != "legal" || tk.Location.Address != "长寿路178号" || tk.Location.Committee != "c07" {
		t.Errorf("ticket: %+v", tk)
	}
	if !strings.Contains(n.Said(), "Your ticket number is") {
		t.Errorf("English read-back:\n%s", n.Said())
	}
}

// Outside opening hours the caller is told so and leaves a message, which
// becomes a ticket in the category its words suggest.
func TestCall_AfterHours(t *testing.T) {
	st := MustStreet(t)
	st.Clock.Set(time.Date(2025, 3, 5, 14, 0, 0, 0, time.UTC)) // 22:00 in Shanghai
	const sid = "CA00000000000000000000000000000020"
	n := MustTwiML(t, st.Post(t, phone.PathVoice, callForm(sid, "+8613812345678")))
	n = MustTwiML(t, st.Post(t, Next(t, n), callForm(sid, "+8613812345678")))
	if !strings.Contains(n.Said(), "不是热线的服务时间") || step(t, Next(t, n)) != "describe" {
		t.Fatalf("after hours:\n%s", n.Said())
	}
	n = MustTwiML(t, st.Post(t, Next(t, n), callForm(sid, "+8613812345678", "SpeechResult", "家里水龙头漏水了")))
	n = MustTwiML(t, st.Post(t, Next(t, n), callForm(sid, "+8613812345678", "RecordingUrl", recording, "RecordingDuration", "12")))
	tk := st.MustTicket(t, sid)
	if tk.ServiceCode != "home_repair" || tk.MediaURL != recording {
		t.Errorf("after-hours ticket: %+v", tk)
	}
}

// Calls that never reach the end become callback tickets: no caller lost.
func TestCall_MissedAndAbandoned(t *testing.T) {
	st := MustStreet(t)

	// Missed: only the status callback ever comes.
	const missed = "CA00000000000000000000000000000030"
	f := callForm(missed, "13987654321", "CallStatus", "no-answer", "CallDuration", "0")
	for range 2 {
		if w := st.Post(t, phone.PathStatus, f); w.Code >= 300 {
			t.Fatalf("status: %d %s", w.Code, w.Body)
		}
	}
	tk := st.MustTicket(t, missed)
	if tk.ServiceCode != "callback" || tk.Contact.Phone != neighbour || tk.Channel != hotline.ChannelVoice ||
		!strings.Contains(tk.Description, "no-answer") || tk.UnitID != "center" {
		t.Errorf("callback ticket: %+v", tk)
	}

	// Hung up in the menu, after choosing a category.
	const gone = "CA00000000000000000000000000000031"
	n := MustTwiML(t, st.Post(t, phone.PathVoice, callForm(gone, "+8613812345678")))
	n = MustTwiML(t, st.Post(t, Next(t, n), callForm(gone, "+8613812345678")))
	MustTwiML(t, st.Post(t, Next(t, n), callForm(gone, "+8613812345678", "Digits", "2")))
	st.Post(t, phone.PathStatus, callForm(gone, "+8613812345678", "CallStatus", "completed", "CallDuration", "31"))
	// A recording reported late still finds the ticket.
	st.Post(t, phone.PathRecording, callForm(gone, "+8613812345678", "RecordingSid", "RE1", "RecordingUrl", recording, "RecordingStatus", "completed"))
	tk = st.MustTicket(t, gone)
	if tk.ServiceCode != "callback" || !strings.Contains(tk.Description, "上门探访") || tk.MediaURL != recording {
		t.Errorf("abandoned call: %+v", tk)
	}
	if got := st.CountTickets(t); got != 2 {
		t.Errorf("%d tickets, want 2", got)
	}

	// A withheld number cannot be called back: nothing is filed.
	st.Post(t, phone.PathStatus, callForm("CA00000000000000000000000000000032", "anonymous", "CallStatus", "busy"))
	if got := st.CountTickets(t); got != 2 {
		t.Errorf("%d tickets after a withheld call, want 2", got)
	}
}

func TestWebhooks_Refused(t *testing.T) {
	st := MustStreet(t)
	form := callForm("CA00000000000000000000000000000040", "+8613812345678", "CallStatus", "no-answer")
	good := phone.Sign(authToken, publicURL+phone.PathStatus, form)
	scenarios := []struct {
		Name   string
		Target string
		Sig    string
		Body   string
		CT     string
		Want   int
	}{
		{Name: "no signature", Target: phone.PathStatus, Want: http.StatusForbidden},
		{Name: "wrong signature", Target: phone.PathStatus, Sig: "bm9wZQ==", Want: http.StatusForbidden},
		{Name: "signed by another token", Target: phone.PathStatus, Sig: phone.Sign("other", publicURL+phone.PathStatus, form), Want: http.StatusForbidden},
		{Name: "signed for the host it reached", Target: phone.PathStatus, Sig: phone.Sign(authToken, "http://10.0.0.7:8080"+phone.PathStatus, form), Want: http.StatusForbidden},
		{Name: "signed for another path", Target: phone.PathStatus, Sig: phone.Sign(authToken, publicURL+phone.PathVoice, form), Want: http.StatusForbidden},
		{Name: "query changed", Target: phone.PathStatus + "?x=1", Sig: good, Want: http.StatusForbidden},
		{Name: "form changed", Target: phone.PathStatus, Sig: good, Body: form.Encode() + "&Digits=1", Want: http.StatusForbidden},
		{Name: "JSON body", Target: phone.PathStatus, Sig: good, Body: `{"CallSid":"x"}`, CT: "application/json", Want: http.StatusUnsupportedMediaType},
		{Name: "too big", Target: phone.PathStatus, Sig: good, Body: "Body=" + strings.Repeat("x", phone.MaxBody), Want: http.StatusRequestEntityTooLarge},
	}
	for _, sc := range scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			body := sc.Body
			if body == "" {
				body = form.Encode()
			}
			ct := sc.CT
			if ct == "" {
				ct = "application/x-www-form-urlencoded"
			}
			r := httptestRequest(sc.Target, body, ct, sc.Sig)
			w := serve(st, r)
			if w.Code != sc.Want {
				t.Errorf("status %d, want %d (%s)", w.Code, sc.Want, w.Body)
			}
			if sc.Want == http.StatusForbidden && !strings.Contains(w.Body.String(), "Signature") {
				t.Errorf("body %q should say why", w.Body)
			}
		})
	}
	if got := st.CountTickets(t); got != 0 {
		t.Errorf("refused webhooks created %d tickets", got)
	}
	// The same request, signed right, is taken.
	if w := st.Post(t, phone.PathStatus, form); w.Code >= 300 || st.CountTickets(t) != 1 {
		t.Errorf("signed: %d, %d tickets", w.Code, st.CountTickets(t))
	}

	// Well signed but wrong: a clear 4xx.
	for target, want := range map[string]int{
		phone.PathVoice + "?step=nowhere":        http.StatusBadRequest,
		phone.PathVoice + "?lang=fr":             http.StatusBadRequest,
		phone.PathVoice + "?step=category&try=9": http.StatusBadRequest,
	} {
		if w := st.Post(t, target, callForm("CA00000000000000000000000000000041", "+8613812345678")); w.Code != want {
			t.Errorf("%s: %d, want %d", target, w.Code, want)
		}
	}
	if w := st.Post(t, phone.PathVoice, url.Values{"From": {"+8613812345678"}}); w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "CallSid") {
		t.Errorf("no CallSid: %d %s", w.Code, w.Body)
	}
}

func TestStatus_Message(t *testing.T) {
	st := MustStreet(t)
	ctx := context.Background()
	m := &hotline.OutboundMessage{Key: "k1", To: resident, Body: "hello", Kind: "reply"}
	if _, err := st.Outbox.Enqueue(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := st.Outbox.MarkSent(ctx, m.ID, "SM00000000000000000000000000000001"); err != nil {
		t.Fatal(err)
	}
	f := url.Values{"AccountSid": {"AC1"}, "MessageSid": {"SM00000000000000000000000000000001"}, "SmsSid": {"SM00000000000000000000000000000001"},
		"MessageStatus": {"undelivered"}, "SmsStatus": {"undelivered"}, "ErrorCode": {"30003"}, "To": {resident}, "From": {lineNo}}
	if w := st.Post(t, phone.PathStatus, f); w.Code >= 300 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	got, err := st.Outbox.FindMessage(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != hotline.MessageUndelivered || !strings.Contains(got.Error, "30003") {
		t.Errorf("message: %+v", got)
	}
	// An unknown message (an inline reply) is fine.
	f.Set("MessageSid", "SM00000000000000000000000000000099")
	if w := st.Post(t, phone.PathStatus, f); w.Code >= 300 {
		t.Errorf("unknown sid: %d", w.Code)
	}
}
