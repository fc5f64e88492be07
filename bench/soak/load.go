package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/network"
	"github.com/caojiadu/hotline/phone"
	"github.com/caojiadu/hotline/server"
	"github.com/caojiadu/hotline/simulator"
)

// ---- the street ----------------------------------------------------------------

// committee is a committee of the demo street and a point inside its area
// (Network.PointInCommittee).
type committee struct {
	id        string
	lat, long float64
}

func committees() ([]committee, error) {
	n, _ := network.Demo()
	var out []committee
	for _, u := range n.Units {
		if u.Kind != hotline.KindCommittee {
			continue
		}
		lat, long, ok := n.PointInCommittee(u.ID)
		if !ok {
			return nil, fmt.Errorf("no point inside committee %s of the demo street", u.ID)
		}
		c := committee{id: u.ID, lat: lat, long: long}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("the demo street has no committees")
	}
	return out, nil
}

// addresses are typed addresses ("长寿路 100 号") the gazetteer of the
// demo street places: the first number of every range it lists.
func addresses() ([]string, error) {
	f, err := network.DemoFiles().Open("demo/gazetteer.csv")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ",")
		if len(fields) < 2 || strings.HasPrefix(fields[0], "#") || fields[0] == "road" {
			continue
		}
		if _, err := strconv.Atoi(fields[1]); err == nil {
			out = append(out, fields[0]+" "+fields[1]+" 号")
		}
	}
	if len(out) == 0 {
		return nil, errors.New("the demo gazetteer lists no addresses")
	}
	return out, sc.Err()
}

// needs are what residents ask for: a category and a description of the
// kind a resident writes. building_safety is urgent (30 minutes to
// accept), so a long run also sees time limits pass and tickets escalate.
var needs = []struct{ code, text string }{
	{"elderly_meals", "独居老人需要每天送午餐，子女在外地"},
	{"elderly_visit", "楼上独居老人好几天没出门，请上门看看"},
	{"home_repair", "家里水龙头漏水，老人自己修不了"},
	{"facilities", "楼道灯坏了，晚上看不见，老人上下楼很危险"},
	{"sanitation", "楼道垃圾堆了三天没人清理，气味很大"},
	{"dispute", "邻居装修噪音太大，晚上十点还在施工"},
	{"policy", "想咨询居家养老补贴政策怎么申请"},
	{"disability", "残疾人出行需要借用轮椅"},
	{"youth", "暑假孩子没人照看，想了解社区托管班"},
	{"health", "老人血压高，想预约家庭医生上门"},
	{"sanitation", "小区垃圾分类点满了没人收"},
	{"facilities", "电梯又坏了，住十八楼的老人下不了楼"},
}

const urgentCode, urgentText = "building_safety", "外墙瓷砖松动，随时可能掉下来砸到人"

// need is the i-th ticket's category and description; one in fifty is
// urgent.
func need(i int) (code, text string) {
	if i%50 == 17 {
		return urgentCode, urgentText
	}
	n := needs[i%len(needs)]
	return n.code, n.text
}

// ---- the run ---------------------------------------------------------------------

// run is one soak: the server, its boards, the load and what it recorded.
type run struct {
	o     options
	srv   *hotlineChild
	rd    *redisChild
	admin *staffUser
	staff map[string]*staffUser
	cs    []committee
	addrs []string

	// residents are HTTP clients, one per loopback source address and
	// one connection each, so the server sees -clients residents, each
	// well under the per-address limits (web form 30, Open311 20 a
	// minute) and the number of server connections stays fixed.
	residents []*http.Client
	staffHC   *http.Client

	boards  []*board
	ledger  *ledger
	samples []sample
	sched   *scheduler
}

func newRun(o options, srv *hotlineChild, rd *redisChild, staff map[string]*staffUser, addrs []string) *run {
	r := &run{o: o, srv: srv, rd: rd, staff: staff, admin: staff[""], ledger: newLedger()}
	r.cs, _ = committees() // signIn checked them
	r.addrs = addrs
	for i := range o.clients {
		r.residents = append(r.residents, httpClientFrom(net.IPv4(127, 0, 1, byte(1+i)), 1))
	}
	r.staffHC = httpClientFrom(net.IPv4(127, 0, 0, 1), 4)
	r.sched = newScheduler(r)
	return r
}

// httpClientFrom is a client whose connections leave from src, at most
// conns at a time; idle ones are kept (the server closes them after two
// idle minutes), so a steady load keeps a steady set of connections.
func httpClientFrom(src net.IP, conns int) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: src}, Timeout: 10 * time.Second}
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{DialContext: d.DialContext, MaxConnsPerHost: conns,
			MaxIdleConnsPerHost: conns, IdleConnTimeout: 10 * time.Minute},
	}
}

// outcome is what the run ends with, for the report.
type outcome struct {
	loadTime time.Duration
	store    *storeView // nil when the store could not be read back
	tally    tally
	pending  int // staff actions scheduled past the end, not done
	errs     []error
}

// drive runs the load for the duration while sampling and churning
// boards, then stops it and checks everything. ctx ending (Ctrl-C) cuts
// the load short and still reports. Filing, sampling and the rest each
// have a goroutine of their own, so a slow sample never delays a ticket.
func (r *run) drive(ctx context.Context) *outcome {
	out := &outcome{}
	start := time.Now()
	r.takeSample(ctx, 0)

	stop := make(chan struct{})
	var filing sync.WaitGroup
	filerDone := make(chan struct{})
	go func() {
		defer close(filerDone)
		r.fileAll(ctx, start, stop, &filing)
	}()
	samplerDone := make(chan struct{})
	go func() {
		defer close(samplerDone)
		r.sampleAll(ctx, start, stop)
	}()
	var churnC <-chan time.Time
	if r.o.churn > 0 {
		churnT := time.NewTicker(r.o.churn)
		defer churnT.Stop()
		churnC = churnT.C
	}
	stopSched := r.sched.start()
	end := time.After(r.o.duration)
	churned := 0

loop:
	for {
		select {
		case <-churnC:
			r.boards[churned%len(r.boards)].churn()
			churned++
		case <-r.srv.exited:
			out.errs = append(out.errs, fmt.Errorf("hotline serve exited during the run after %s: %v", time.Since(start).Round(time.Second), r.srv.err))
			break loop
		case <-end:
			break loop
		case <-ctx.Done():
			out.errs = append(out.errs, errors.New("interrupted: the run was cut short"))
			break loop
		}
	}
	out.loadTime = time.Since(start)
	close(stop)
	<-filerDone
	<-samplerDone
	if len(r.samples) == 0 || r.samples[len(r.samples)-1].at < out.loadTime-time.Second {
		r.takeSample(ctx, out.loadTime)
	}
	r.saveProfiles("end")

	// Stop: requests in flight finish, staff actions not yet due are
	// dropped, then the boards get a moment to receive the last changes.
	done := make(chan struct{})
	go func() { filing.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		out.errs = append(out.errs, errors.New("requests still unanswered a minute after the load stopped"))
	}
	out.pending = stopSched()
	if n := r.ledger.failures(); n > 0 {
		out.errs = append(out.errs, fmt.Errorf("%d requests to file a ticket failed", n))
	}
	if n := r.sched.unexpected(); n > 0 {
		out.errs = append(out.errs, fmt.Errorf("%d staff actions failed other than by a conflict", n))
	}
	select {
	case <-r.srv.exited:
		return out
	default:
	}
	time.Sleep(3 * time.Second)
	st, err := r.readStore(context.Background())
	if err != nil {
		out.errs = append(out.errs, fmt.Errorf("reading the tickets back: %w", err))
		return out
	}
	out.store = st
	// Changes up to the versions just read are on their way to the boards;
	// any made since (a time limit passing) are counted if they arrive.
	time.Sleep(3 * time.Second)
	out.tally = tallyRun(r.ledger, st, r.boards)
	out.errs = append(out.errs, out.tally.errors()...)
	return out
}

// ---- filing ----------------------------------------------------------------------

// fileAll files tickets at the rate until stop, open loop: the i-th is
// due at start + i/rate whatever the answers to the others. A ticket more
// than a second overdue when its turn comes (this program was starved of
// CPU) is not sent but counted, so the rate stays what was asked for and
// the report says how far the load fell short.
func (r *run) fileAll(ctx context.Context, start time.Time, stop <-chan struct{}, filing *sync.WaitGroup) {
	inflight := make(chan struct{}, 256)
	interval := time.Second / time.Duration(r.o.rate)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for i := 0; ; i++ {
		due := start.Add(time.Duration(i) * interval)
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-stop:
				return
			case <-timer.C:
			}
		} else {
			select {
			case <-stop:
				return
			default:
			}
		}
		if time.Since(due) > time.Second {
			r.ledger.notSent()
			continue
		}
		select {
		case inflight <- struct{}{}:
			filing.Add(1)
			go func(i int) {
				defer filing.Done()
				defer func() { <-inflight }()
				r.file(ctx, i)
			}(i)
		default:
			// 256 requests outstanding: the server is far behind. The
			// ticket is counted as failed rather than queued.
			r.ledger.fail("not sent: 256 requests already waiting")
		}
	}
}

// sampleAll takes a sample every -sample until stop, and keeps the
// server's profiles at the first complete one after the warm-up.
func (r *run) sampleAll(ctx context.Context, start time.Time, stop <-chan struct{}) {
	t := time.NewTicker(r.o.sample)
	defer t.Stop()
	warmSaved := false
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		at := time.Since(start)
		if at > r.o.duration-time.Second {
			return // the end sample is taken once the load stops
		}
		s := r.takeSample(ctx, at)
		if !warmSaved && at >= r.o.warmup && s.err == nil {
			warmSaved = true
			r.saveProfiles("warm")
		}
	}
}

// file files the i-th ticket: seven in ten through the web form's JSON
// API, two through Open311, one as an SMS.
func (r *run) file(ctx context.Context, i int) {
	hc := r.residents[i%len(r.residents)]
	code, text := need(i)
	desc := fmt.Sprintf("%s（第 %d 号来电）", text, i)
	phone := fmt.Sprintf("1380%07d", i%10_000_000)
	t0 := time.Now()
	var (
		id, committee, channel string
		err                    error
	)
	switch k := i % 10; {
	case k < 7:
		channel = "web"
		body := map[string]any{"service_code": code, "description": desc, "phone": phone, "consent": true}
		if i%2 == 0 {
			c := r.cs[i%len(r.cs)]
			body["lat"], body["long"] = c.lat, c.long
		} else {
			body["address_string"] = r.addrs[i%len(r.addrs)]
		}
		b, _ := json.Marshal(body)
		key := fmt.Sprintf("soak-web-%d", i)
		id, committee, err = r.postWeb(ctx, hc, b, key, true)
		if err == nil && i%50 == 0 {
			// A resident's browser retrying a request that did succeed:
			// the same key must bring back the same ticket, not a new one.
			again, _, err2 := r.postWeb(ctx, hc, b, key, false)
			r.ledger.idempotent(err2 == nil && again == id)
		}
	case k < 9:
		channel = "open311"
		form := url.Values{"api_key": {apiKey}, "service_code": {code}, "description": {desc},
			"address_string": {r.addrs[(i/10)%len(r.addrs)]}, "phone": {phone}, "consent": {"true"}}
		id, err = r.postOpen311(ctx, hc, form, fmt.Sprintf("soak-311-%d", i))
	default:
		channel = "sms"
		// A number of its own: a second text from the same number while
		// its first ticket is open would be a note on that ticket.
		from := fmt.Sprintf("1390%07d", i%10_000_000)
		if r.srv.signs {
			id, err = r.postSMSSigned(ctx, hc, "+86"+from, desc, fmt.Sprintf("SM%032x", i))
		} else {
			id, err = r.postSMS(ctx, hc, from, desc)
		}
	}
	lat := time.Since(t0)
	r.ledger.attempt(channel)
	if err != nil {
		if errors.Is(err, errRetry) { // no answer even after retrying
			r.ledger.unknownOutcome()
		}
		r.ledger.fail(channel + ": " + err.Error())
		return
	}
	n, fresh := r.ledger.ack(id, channel, committee, lat)
	if fresh && n%10 < 3 {
		r.sched.add("accept", id, n)
	}
}

// errRetry marks a failure worth retrying with the same idempotency key.
var errRetry = errors.New("retry")

// withRetries tries f up to three times while it fails with errRetry (no
// answer, or a 5xx), a second apart, as a careful client would.
func withRetries(ctx context.Context, f func() error) error {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if err = f(); !errors.Is(err, errRetry) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Second):
		}
	}
	return err
}

// postWeb posts the web form's JSON. first says whether this is the key's
// first use: then the answer must be 201 (a new ticket); a repeat must get
// 200 with the same ticket.
func (r *run) postWeb(ctx context.Context, hc *http.Client, body []byte, key string, first bool) (id, committee string, err error) {
	err = withRetries(ctx, func() error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, r.srv.base+"/api/v1/tickets", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", key)
		resp, err := hc.Do(req)
		if err != nil {
			return fmt.Errorf("%w: %v", errRetry, shortErr(err))
		}
		defer drain(resp)
		if resp.StatusCode >= 500 {
			return fmt.Errorf("%w: status %d", errRetry, resp.StatusCode)
		}
		if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		var t struct{ ID, Committee string }
		if err := json.NewDecoder(resp.Body).Decode(&t); err != nil || t.ID == "" {
			return fmt.Errorf("answer without a ticket id (%v)", err)
		}
		if !first && resp.StatusCode != http.StatusOK {
			return fmt.Errorf("a repeated key answered %d, want 200", resp.StatusCode)
		}
		id, committee = t.ID, t.Committee
		return nil
	})
	return id, committee, err
}

func (r *run) postOpen311(ctx context.Context, hc *http.Client, form url.Values, key string) (id string, err error) {
	err = withRetries(ctx, func() error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, r.srv.base+"/open311/v2/requests.json", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Idempotency-Key", key)
		resp, err := hc.Do(req)
		if err != nil {
			return fmt.Errorf("%w: %v", errRetry, shortErr(err))
		}
		defer drain(resp)
		if resp.StatusCode >= 500 {
			return fmt.Errorf("%w: status %d", errRetry, resp.StatusCode)
		}
		if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		var got []struct {
			ID string `json:"service_request_id"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || len(got) != 1 || got[0].ID == "" {
			return fmt.Errorf("answer without a service_request_id (%v)", err)
		}
		id = got[0].ID
		return nil
	})
	return id, err
}

// smsForm is Twilio's incoming-message webhook form.
func smsForm(sid, from, body string) url.Values {
	return url.Values{
		"AccountSid": {"AC" + strings.Repeat("0", 32)}, "ApiVersion": {"2010-04-01"},
		"MessageSid": {sid}, "SmsSid": {sid}, "SmsMessageSid": {sid}, "SmsStatus": {"received"},
		"From": {from}, "To": {simulator.DefaultHotlineNumber}, "Body": {body},
		"NumMedia": {"0"}, "NumSegments": {"1"}, "FromCountry": {"CN"}, "ToCountry": {"US"},
	}
}

// postSMSSigned posts Twilio's webhook for an incoming text to /twilio/sms,
// signed with the line's auth token, and reads the ticket number from the
// TwiML reply. Like Twilio it retries a failed delivery with the same
// MessageSid, which the line answers once.
func (r *run) postSMSSigned(ctx context.Context, hc *http.Client, from, body, sid string) (id string, err error) {
	target := r.srv.base + phone.PathSMS
	form := smsForm(sid, from, body)
	sig := phone.Sign(r.srv.authToken, target, form)
	err = withRetries(ctx, func() error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", sig)
		resp, err := hc.Do(req)
		if err != nil {
			return fmt.Errorf("%w: %v", errRetry, shortErr(err))
		}
		defer drain(resp)
		if resp.StatusCode >= 500 {
			return fmt.Errorf("%w: status %d", errRetry, resp.StatusCode)
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		var twiml struct {
			Messages []string `xml:"Message"`
		}
		if err := xml.NewDecoder(resp.Body).Decode(&twiml); err != nil {
			return fmt.Errorf("reply is not TwiML: %v", err)
		}
		for _, m := range twiml.Messages {
			if id = ticketNumber(m); id != "" {
				return nil
			}
		}
		return errors.New("no ticket number in the reply")
	})
	return id, err
}

// ticketNumber is the first run of digits in a reply that is a valid
// ticket id (the check digit is right).
func ticketNumber(text string) string {
	for _, f := range strings.FieldsFunc(text, func(c rune) bool { return c < '0' || c > '9' }) {
		if hotline.ValidTicketID(f) {
			return f
		}
	}
	return ""
}

// probeSignature tells whether the server checks webhooks against the
// auth token the soak gave it: a signed status callback for a message it
// never sent is answered, a wrongly signed one refused with 403. A trial
// server that makes up its own token refuses it; the texts then go
// through its phone simulator, which knows the token.
func probeSignature(base, token string) (bool, error) {
	target := base + phone.PathStatus
	form := url.Values{"AccountSid": {"AC" + strings.Repeat("0", 32)}, "MessageSid": {"SM" + strings.Repeat("f", 32)},
		"MessageStatus": {"delivered"}, "To": {"+8613900000000"}, "From": {simulator.DefaultHotlineNumber}}
	req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", phone.Sign(token, target, form))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, err
	}
	drain(resp)
	if resp.StatusCode >= 500 {
		return false, fmt.Errorf("probing the webhook signature: status %d", resp.StatusCode)
	}
	return resp.StatusCode != http.StatusForbidden, nil
}

// postSMS texts the hotline through the phone simulator, which signs the
// webhook with the line's auth token and posts it to /twilio/sms; the
// ticket number comes back in the reply. It is not retried: a second
// POST is a second text with a new MessageSid, as on a real phone.
func (r *run) postSMS(ctx context.Context, hc *http.Client, from, body string) (string, error) {
	b, _ := json.Marshal(map[string]string{"from": from, "body": body})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, r.srv.base+"/sim/sms", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		r.ledger.unknownOutcome()
		return "", errors.New(shortErr(err))
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		if resp.StatusCode >= 500 {
			r.ledger.unknownOutcome()
		}
		return "", fmt.Errorf("status %d", resp.StatusCode)
	}
	var got struct {
		Replies []struct {
			TicketIDs []string `json:"ticket_ids"`
		} `json:"replies"`
		Webhooks []struct {
			Status int `json:"status"`
		} `json:"webhooks"`
		Error string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		r.ledger.unknownOutcome()
		return "", fmt.Errorf("unreadable answer: %v", err)
	}
	if got.Error != "" || len(got.Webhooks) == 0 || got.Webhooks[0].Status != http.StatusOK {
		r.ledger.unknownOutcome()
		return "", fmt.Errorf("webhook failed: %q", got.Error)
	}
	for _, rep := range got.Replies {
		if len(rep.TicketIDs) > 0 {
			return rep.TicketIDs[0], nil
		}
	}
	r.ledger.unknownOutcome()
	return "", errors.New("no ticket number in the reply")
}

// shortErr keeps what a transport error says without the URL.
func shortErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && strings.Contains(s, "dial tcp") {
		s = "dial: " + s[i+2:]
	}
	return s
}

// ---- what was filed ----------------------------------------------------------------

// filed is an acknowledged ticket.
type filed struct {
	channel   string
	committee string // from the web form's answer; the others learn it at the end
	ackAt     time.Time
}

// ledger is every ticket the load filed and how each request went.
type ledger struct {
	mu     sync.Mutex
	byID   map[string]*filed
	acks   int            // acknowledgements, counting one per request
	shared int            // acknowledgements that named a ticket another request had got
	failed map[string]int // reason → requests
	// attempts are the tickets the load tried to file, by channel.
	attempts map[string]int
	// skipped are tickets not sent because their time had passed by more
	// than a second when the load generator got to them.
	skipped int
	// unknown counts requests that got no usable answer: they may have
	// made a ticket nobody was told about.
	unknown int
	// latency of every acknowledged request, by channel, retries included.
	latency map[string][]time.Duration
	// idemOK and idemBad count repeated posts of a key that got the same
	// ticket back, or not.
	idemOK, idemBad int
}

func newLedger() *ledger {
	return &ledger{byID: map[string]*filed{}, failed: map[string]int{}, attempts: map[string]int{},
		latency: map[string][]time.Duration{}}
}

// ack records an acknowledged ticket and returns its ordinal among the
// tickets acknowledged so far; fresh is false when another request had
// already been given the same ticket.
func (l *ledger) ack(id, channel, committee string, lat time.Duration) (n int, fresh bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acks++
	l.latency[channel] = append(l.latency[channel], lat)
	if _, dup := l.byID[id]; dup {
		l.shared++
		return l.acks, false
	}
	l.byID[id] = &filed{channel: channel, committee: committee, ackAt: time.Now()}
	return len(l.byID), true
}

func (l *ledger) attempt(channel string) {
	l.mu.Lock()
	l.attempts[channel]++
	l.mu.Unlock()
}

func (l *ledger) notSent() {
	l.mu.Lock()
	l.skipped++
	l.mu.Unlock()
}

func (l *ledger) fail(reason string) {
	l.mu.Lock()
	l.failed[reason]++
	l.mu.Unlock()
}

func (l *ledger) unknownOutcome() {
	l.mu.Lock()
	l.unknown++
	l.mu.Unlock()
}

func (l *ledger) idempotent(ok bool) {
	l.mu.Lock()
	if ok {
		l.idemOK++
	} else {
		l.idemBad++
	}
	l.mu.Unlock()
}

func (l *ledger) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.byID)
}

func (l *ledger) failures() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.failed {
		n += c
	}
	return n
}

// ---- staff actions -------------------------------------------------------------------

// Delays between a ticket's acknowledgement and the administrator's
// actions on it: accepted after acceptAfter, then (two in three) started
// and resolved.
const (
	acceptAfter  = 5 * time.Second
	startAfter   = 10 * time.Second
	resolveAfter = 10 * time.Second
)

// scheduler runs the staff actions when they fall due. Each verb has one
// delay, so each verb's queue is in due order.
type scheduler struct {
	r      *run
	mu     sync.Mutex
	queues map[string][]action
	ok     map[string]int
	failed map[string]int // "accept 409" → count
	errs   []string       // the first few unexpected failures
}

type action struct {
	due  time.Time
	id   string
	verb string
	n    int
}

func newScheduler(r *run) *scheduler {
	return &scheduler{r: r, queues: map[string][]action{}, ok: map[string]int{}, failed: map[string]int{}}
}

var delays = map[string]time.Duration{"accept": acceptAfter, "start": startAfter, "resolve": resolveAfter}

func (s *scheduler) add(verb, id string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queues[verb] = append(s.queues[verb], action{due: time.Now().Add(delays[verb]), id: id, verb: verb, n: n})
}

// start runs due actions, four at a time, until the returned stop is
// called; stop waits for the running ones and returns how many were still
// waiting.
func (s *scheduler) start() (stop func() int) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	var loop sync.WaitGroup
	loop.Add(1)
	go func() {
		defer loop.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case now := <-t.C:
				for _, a := range s.due(now) {
					select {
					case sem <- struct{}{}:
					case <-quit:
						return
					}
					wg.Add(1)
					go func(a action) {
						defer wg.Done()
						defer func() { <-sem }()
						s.do(a)
					}(a)
				}
			}
		}
	}()
	return func() int {
		close(quit)
		loop.Wait()
		wg.Wait()
		s.mu.Lock()
		defer s.mu.Unlock()
		n := 0
		for _, q := range s.queues {
			n += len(q)
		}
		return n
	}
}

func (s *scheduler) due(now time.Time) []action {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []action
	for verb, q := range s.queues {
		k := 0
		for k < len(q) && !q[k].due.After(now) {
			k++
		}
		out = append(out, q[:k]...)
		s.queues[verb] = q[k:]
	}
	return out
}

// do posts one action as the administrator and schedules what follows it.
func (s *scheduler) do(a action) {
	var body io.Reader
	if a.verb == "resolve" {
		body = strings.NewReader(`{"text":"已上门处理完毕，居民表示满意"}`)
	}
	code, err := s.r.admin.post(s.r.staffHC, s.r.srv.base+"/api/v1/tickets/"+a.id+"/"+a.verb, body)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case err != nil:
		s.failed[a.verb+" "+shortErr(err)]++
		s.note(fmt.Sprintf("%s %s: %v", a.verb, a.id, shortErr(err)))
		return
	case code != http.StatusOK:
		s.failed[fmt.Sprintf("%s %d", a.verb, code)]++
		if code != http.StatusConflict {
			s.note(fmt.Sprintf("%s %s: status %d", a.verb, a.id, code))
		}
		return
	}
	s.ok[a.verb]++
	next := map[string]string{"accept": "start", "start": "resolve"}[a.verb]
	if next != "" && a.n%3 != 0 {
		s.queues[next] = append(s.queues[next], action{due: time.Now().Add(delays[next]), id: a.id, verb: next, n: a.n})
	}
}

func (s *scheduler) note(msg string) {
	if len(s.errs) < 5 {
		s.errs = append(s.errs, msg)
	}
}

// unexpected counts failed actions other than conflicts (a ticket that
// moved on, say escalated, before the action).
func (s *scheduler) unexpected() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, c := range s.failed {
		if !strings.HasSuffix(k, " 409") {
			n += c
		}
	}
	return n
}

// login signs u in and keeps the session cookie and CSRF token.
func (u *staffUser) login(ctx context.Context, hc *http.Client, base string) error {
	b, _ := json.Marshal(map[string]string{"username": u.name, "password": password})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/login", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("login %s: %w", u.name, err)
	}
	defer drain(resp)
	var got struct {
		CSRF string `json:"csrf_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("login %s: status %d (%v)", u.name, resp.StatusCode, err)
	}
	for _, c := range resp.Cookies() {
		if c.Name == server.SessionCookie {
			u.cookie, u.csrf = c.Value, got.CSRF
			return nil
		}
	}
	return fmt.Errorf("login %s: no session cookie", u.name)
}

// post sends a staff POST with the session and its CSRF token.
func (u *staffUser) post(hc *http.Client, target string, body io.Reader) (int, error) {
	req, _ := http.NewRequest(http.MethodPost, target, body)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.AddCookie(&http.Cookie{Name: server.SessionCookie, Value: u.cookie})
	req.Header.Set(server.CSRFHeader, u.csrf)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	drain(resp)
	return resp.StatusCode, nil
}

// get reads a staff GET into v.
func (u *staffUser) get(ctx context.Context, hc *http.Client, target string, v any) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	req.AddCookie(&http.Cookie{Name: server.SessionCookie, Value: u.cookie})
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", target, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// ---- reading the store back ------------------------------------------------------------

// storeView is every ticket in the store, as the administrator reads them
// through GET /api/v1/tickets after the load.
type storeView struct {
	tickets map[string]storedTicket
	total   int
	// created is hotline_tickets_created_total summed over channels: the
	// tickets intake created, retries not counted.
	created int
}

type storedTicket struct {
	version   int64
	committee string
	channel   string
}

func (r *run) readStore(ctx context.Context) (*storeView, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	st := &storeView{tickets: map[string]storedTicket{}}
	const page = 1000
	for offset := 0; ; offset += page {
		var got struct {
			Tickets []struct {
				ID       string `json:"id"`
				Version  int64  `json:"version"`
				Channel  string `json:"channel"`
				Location struct {
					Committee string `json:"committee"`
				} `json:"location"`
			} `json:"tickets"`
			Total int `json:"total"`
		}
		if err := r.admin.get(ctx, r.staffHC, fmt.Sprintf("%s/api/v1/tickets?limit=%d&offset=%d", r.srv.base, page, offset), &got); err != nil {
			return nil, err
		}
		st.total = got.Total
		for _, t := range got.Tickets {
			st.tickets[t.ID] = storedTicket{version: t.Version, committee: t.Location.Committee, channel: t.Channel}
		}
		if len(got.Tickets) < page {
			break
		}
	}
	m, err := scrape(ctx, r.srv.base+"/metrics")
	if err != nil {
		return nil, err
	}
	st.created = int(math.Round(m["hotline_tickets_created_total"]))
	return st, nil
}

// saveProfiles keeps the server's heap (after a GC) and goroutines when
// -keep names a directory, for a closer look at whatever grew.
func (r *run) saveProfiles(when string) {
	if r.o.keep == "" {
		return
	}
	for name, path := range map[string]string{
		"heap-" + when + ".pb.gz":     "/debug/pprof/heap?gc=1",
		"goroutines-" + when + ".txt": "/debug/pprof/goroutine?debug=1",
	} {
		resp, err := http.Get(r.srv.debugBase + path)
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		_ = os.WriteFile(r.o.keep+"/"+name, b, 0o644)
	}
}

// acked is the number of tickets acknowledged so far, for the samples.
func (r *run) acked() int { return r.ledger.count() }
