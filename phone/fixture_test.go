package phone_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/dispatch"
	"github.com/caojiadu/hotline/intake"
	"github.com/caojiadu/hotline/internal/redistest"
	"github.com/caojiadu/hotline/network"
	"github.com/caojiadu/hotline/phone"
	"github.com/caojiadu/hotline/redisstore"
)

const (
	authToken = "12345678901234567890123456789012"
	publicURL = "https://hotline.example.cn"
	lineNo    = "+862162000000"
	resident  = "+8613812345678"
	neighbour = "+8613987654321"
)

// wednesday10 is inside the default opening hours (Shanghai 10:00).
var wednesday10 = time.Date(2025, 3, 5, 2, 0, 0, 0, time.UTC)

// Clock is a settable test clock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *Clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *Clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// Street is the demo street on a fresh Redis key space with everything the
// line works with: real stores, intake routing through dispatch, and
// dispatch's Rate.
type Street struct {
	Line     *phone.Line
	Handler  http.Handler
	Tickets  hotline.TicketStore
	Outbox   hotline.Outbox
	OptOuts  hotline.OptOuts
	Sessions hotline.PhoneSessions
	Dispatch *dispatch.Service
	Dir      *hotline.StaticDirectory
	Clock    *Clock
	// Log holds what the line logged.
	Log *syncBuffer
}

// Logger returns a logger into st.Log.
func (st *Street) Logger() *slog.Logger {
	if st.Log == nil {
		st.Log = &syncBuffer{}
	}
	return slog.New(slog.NewTextHandler(st.Log, nil))
}

// syncBuffer is a bytes.Buffer safe for the line's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// MustStreet builds the street and its phone line; edit changes the
// line's configuration.
func MustStreet(tb testing.TB, edit ...func(*phone.Config)) *Street {
	tb.Helper()
	client, prefix := redistest.New(tb)
	return buildStreet(tb, client, prefix, nil, edit...)
}

// buildStreet builds the street on client under prefix, its line keeping
// a journal when j is not nil.
func buildStreet(tb testing.TB, client redis.UniversalClient, prefix string, j *phone.Journal, edit ...func(*phone.Config)) *Street {
	tb.Helper()
	db := redisstore.NewDB(client, prefix)
	n, c := network.Demo()
	st := &Street{Dir: hotline.NewStaticDirectory(n, c), Clock: &Clock{t: wednesday10}}
	st.Tickets = redisstore.NewTicketStore(db)
	st.Outbox = redisstore.NewOutbox(db)
	st.OptOuts = redisstore.NewOptOuts(db)
	st.Sessions = redisstore.NewPhoneSessions(db)
	if err := redisstore.NewUnitIndex(db).IndexUnits(context.Background(), n); err != nil {
		tb.Fatal(err)
	}
	cfg := dispatch.DefaultConfig()
	compiled, err := cfg.Compile(c)
	if err != nil {
		tb.Fatal(err)
	}
	st.Dispatch = dispatch.New(compiled, st.Tickets, redisstore.NewUnitIndex(db), redisstore.NewDeadlineQueue(db), st.Dir, nil)
	st.Dispatch.Now = st.Clock.Now
	in := intake.New(st.Tickets, st.Dir)
	in.Now = st.Clock.Now
	in.Place = st.Dispatch.PlaceNew

	pc := phone.Config{AuthToken: authToken, PublicURL: publicURL + "/", FromNumber: lineNo, Hours: "daily 08:00-20:00"}
	for _, e := range edit {
		e(&pc)
	}
	st.Line, err = phone.New(pc, phone.Deps{Intake: in, Tickets: st.Tickets, Directory: st.Dir, Outbox: st.Outbox,
		OptOuts: st.OptOuts, Sessions: st.Sessions, Rater: st.Dispatch, Journal: j, Now: st.Clock.Now, Logger: st.Logger()})
	if err != nil {
		tb.Fatal(err)
	}
	st.Handler = st.Line.Handler()
	return st
}

// Post sends a form to target (a path with its query, or an absolute URL
// under publicURL) signed as Twilio signs it.
func (st *Street) Post(tb testing.TB, target string, form url.Values) *httptest.ResponseRecorder {
	tb.Helper()
	target = strings.TrimPrefix(target, publicURL)
	return st.PostSigned(tb, target, form, phone.Sign(authToken, publicURL+target, form))
}

// PostSigned sends form with the given signature ("" sends none).
func (st *Street) PostSigned(tb testing.TB, target string, form url.Values, sig string) *httptest.ResponseRecorder {
	tb.Helper()
	r := httptest.NewRequest("POST", target, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	// Where the request really arrived is not where Twilio sent it (a
	// proxy in front): the line must check against publicURL only.
	r.Host = "10.0.0.7:8080"
	if sig != "" {
		r.Header.Set("X-Twilio-Signature", sig)
	}
	w := httptest.NewRecorder()
	st.Handler.ServeHTTP(w, r)
	return w
}

// CountTickets is how many tickets the store holds.
func (st *Street) CountTickets(tb testing.TB) int {
	tb.Helper()
	_, n, err := st.Tickets.FindTickets(context.Background(), hotline.TicketFilter{})
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// MustTicket returns the only ticket whose ExternalRef is ref.
func (st *Street) MustTicket(tb testing.TB, ref string) *hotline.Ticket {
	tb.Helper()
	ts, _, err := st.Tickets.FindTickets(context.Background(), hotline.TicketFilter{Limit: 1000})
	if err != nil {
		tb.Fatal(err)
	}
	var found *hotline.Ticket
	for _, t := range ts {
		if t.ExternalRef == ref {
			if found != nil {
				tb.Fatalf("two tickets for %s: %s and %s", ref, found.ID, t.ID)
			}
			found = t
		}
	}
	if found == nil {
		tb.Fatalf("no ticket for %s", ref)
	}
	return found
}

// callForm is what Twilio posts for a call in progress.
func callForm(sid, from string, extra ...string) url.Values {
	v := url.Values{
		"AccountSid": {"AC0123456789abcdef0123456789abcdef"}, "ApiVersion": {"2010-04-01"},
		"CallSid": {sid}, "From": {from}, "Caller": {from}, "To": {lineNo}, "Called": {lineNo},
		"CallStatus": {"in-progress"}, "Direction": {"inbound"},
		"FromCountry": {"CN"}, "ToCountry": {"CN"},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v
}

// smsForm is what Twilio posts for an incoming message.
func smsForm(sid, from, body string) url.Values {
	return url.Values{
		"AccountSid": {"AC0123456789abcdef0123456789abcdef"}, "ApiVersion": {"2010-04-01"},
		"MessageSid": {sid}, "SmsMessageSid": {sid}, "SmsSid": {sid}, "From": {from}, "To": {lineNo},
		"Body": {body}, "NumMedia": {"0"}, "NumSegments": {"1"}, "SmsStatus": {"received"},
		"FromCountry": {"CN"}, "ToCountry": {"CN"},
	}
}

// Node is a parsed TwiML element. twilio-go writes attributes in random
// order, so tests look at the tree, never at the text.
type Node struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Text     string     `xml:",chardata"`
	Children []*Node    `xml:",any"`
}

func (n *Node) Attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// All returns the elements named name, depth first.
func (n *Node) All(name string) []*Node {
	var out []*Node
	var walk func(*Node)
	walk = func(x *Node) {
		if x.XMLName.Local == name {
			out = append(out, x)
		}
		for _, c := range x.Children {
			walk(c)
		}
	}
	walk(n)
	return out
}

// Said joins the text of every <Say> (or <Message>).
func (n *Node) Said() string {
	var b strings.Builder
	for _, s := range append(n.All("Say"), n.All("Message")...) {
		b.WriteString(s.Text)
		b.WriteString("\n")
	}
	return b.String()
}

// MustTwiML checks a webhook's answer is TwiML and parses it.
func MustTwiML(tb testing.TB, w *httptest.ResponseRecorder) *Node {
	tb.Helper()
	if w.Code != http.StatusOK {
		tb.Fatalf("status %d, body %q", w.Code, w.Body.String())
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/xml") {
		tb.Fatalf("Content-Type %q", ct)
	}
	var n Node
	if err := xml.Unmarshal(w.Body.Bytes(), &n); err != nil {
		tb.Fatalf("not XML: %v\n%s", err, w.Body.String())
	}
	if n.XMLName.Local != "Response" {
		tb.Fatalf("root %q, want Response", n.XMLName.Local)
	}
	return &n
}

// Next is where Twilio goes after the answer: the action of its Gather or
// Record (the Redirect is only reached when they end without input).
func Next(tb testing.TB, n *Node) string {
	tb.Helper()
	for _, name := range []string{"Gather", "Record", "Redirect"} {
		if xs := n.All(name); len(xs) > 0 {
			if name == "Redirect" {
				return xs[0].Text
			}
			return xs[0].Attr("action")
		}
	}
	tb.Fatalf("no next step in the answer")
	return ""
}

func step(tb testing.TB, action string) string {
	tb.Helper()
	u, err := url.Parse(action)
	if err != nil {
		tb.Fatal(err)
	}
	return u.Query().Get("step")
}

func httptestRequest(target, body, contentType, sig string) *http.Request {
	r := httptest.NewRequest("POST", target, strings.NewReader(body))
	r.Header.Set("Content-Type", contentType)
	if sig != "" {
		r.Header.Set("X-Twilio-Signature", sig)
	}
	return r
}

func serve(st *Street, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	st.Handler.ServeHTTP(w, r)
	return w
}
