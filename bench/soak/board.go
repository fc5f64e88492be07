package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/caojiadu/hotline/server"
)

// boardReadWait is how long a board waits for a message or a ping: the
// server pings every 54 s (server/ws.go), so two minutes of silence means
// the connection is gone.
const boardReadWait = 2 * time.Minute

// board is one live board: a staff user's websocket that reads for the
// whole run, resumes with since when it drops, and counts every ticket
// change it gets by (ticket, version).
type board struct {
	idx       int
	user      *staffUser
	wsURL     string
	admin     bool
	committee string

	// churning is set just before the soak drops the connection itself,
	// so the reader tells a churn from a real drop; closing ends it all.
	churning atomic.Bool
	closing  atomic.Bool
	done     chan struct{}

	mu       sync.Mutex
	conn     *websocket.Conn
	position string
	got      map[uint64]uint8 // changeKey → times received
	// created is when each ticket.created (version 1) arrived, on the
	// first administrator's board only: it gives the delay from a POST's
	// answer to the board.
	created   map[uint64]time.Time
	messages  int
	hellos    int
	replayed  int
	resumes   int // reconnections after a churn
	drops     map[string]int
	reloads   int
	errorMsgs int
	bad       int // messages that were not JSON or had no version
}

// changeKey packs a ticket id (digits) and a change's version into one
// map key: versions stay far below 2^16 in a run.
func changeKey(id string, version int64) (uint64, bool) {
	n, err := strconv.ParseUint(id, 10, 47)
	if err != nil || version < 1 || version >= 1<<16 {
		return 0, false
	}
	return n<<16 | uint64(version), true
}

// connectBoards connects every board and waits for each one's hello, so
// the load starts with all of them live.
func (r *run) connectBoards(ctx context.Context) error {
	ws := "ws" + strings.TrimPrefix(r.srv.base, "http") + "/ws"
	for i := range r.o.boards {
		b := &board{idx: i, wsURL: ws, got: map[uint64]uint8{}, drops: map[string]int{}, done: make(chan struct{})}
		if i < r.o.adminBoards {
			b.admin, b.user = true, r.admin
		} else {
			c := r.cs[(i-r.o.adminBoards)%len(r.cs)].id
			b.committee, b.user = c, r.staff[c]
		}
		if i == 0 {
			b.created = map[uint64]time.Time{}
		}
		if err := b.dial(ctx); err != nil {
			for _, o := range r.boards {
				o.stop()
			}
			return fmt.Errorf("board %d: %w", i, err)
		}
		r.boards = append(r.boards, b)
		go b.run()
	}
	return nil
}

func (r *run) closeBoards() {
	for _, b := range r.boards {
		b.stop()
	}
}

// dial connects, with since when the board has a position, and reads up
// to the hello: a resume's replayed changes come first.
func (b *board) dial(ctx context.Context) error {
	target := b.wsURL
	b.mu.Lock()
	if b.position != "" {
		target += "?since=" + url.QueryEscape(b.position)
	}
	b.mu.Unlock()
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 4096, WriteBufferSize: 1024}
	h := http.Header{"Cookie": {server.SessionCookie + "=" + b.user.cookie}}
	conn, resp, err := d.DialContext(ctx, target, h)
	if err != nil {
		if resp != nil {
			return fmt.Errorf("dial: %v (status %d)", err, resp.StatusCode)
		}
		return fmt.Errorf("dial: %w", err)
	}
	conn.SetPingHandler(func(data string) error {
		conn.SetReadDeadline(time.Now().Add(boardReadWait))
		err := conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(10*time.Second))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	})
	for {
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, msg, err := conn.ReadMessage()
		if err != nil {
			conn.Close()
			return fmt.Errorf("waiting for hello: %w", err)
		}
		if b.handle(msg) == "hello" {
			break
		}
	}
	b.mu.Lock()
	b.conn = conn
	b.mu.Unlock()
	if b.closing.Load() {
		conn.Close()
	}
	return nil
}

// run reads until stop, reconnecting with since after a churn or a drop.
func (b *board) run() {
	defer close(b.done)
	for {
		b.mu.Lock()
		conn := b.conn
		b.mu.Unlock()
		err := b.read(conn)
		if b.closing.Load() {
			return
		}
		if b.churning.Swap(false) {
			b.mu.Lock()
			b.resumes++
			b.mu.Unlock()
		} else {
			b.mu.Lock()
			b.drops[dropReason(err)]++
			b.mu.Unlock()
			time.Sleep(time.Second)
		}
		for {
			if b.closing.Load() {
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			err := b.dial(ctx)
			cancel()
			if err == nil {
				break
			}
			b.mu.Lock()
			b.drops["redial: "+shortErr(err)]++
			b.mu.Unlock()
			time.Sleep(time.Second)
		}
	}
}

func (b *board) read(conn *websocket.Conn) error {
	for {
		conn.SetReadDeadline(time.Now().Add(boardReadWait))
		_, msg, err := conn.ReadMessage()
		if err != nil {
			return err
		}
		b.handle(msg)
	}
}

// dropReason names a connection's end: the server's close code, or the
// kind of error.
func dropReason(err error) string {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return fmt.Sprintf("close %d %s", ce.Code, ce.Text)
	}
	return shortErr(err)
}

// handle takes one message and returns its type.
func (b *board) handle(msg []byte) string {
	var m struct {
		Type     string `json:"type"`
		TicketID string `json:"ticket_id"`
		Position string `json:"position"`
		Replayed *int   `json:"replayed"`
		Event    struct {
			Version int64 `json:"version"`
		} `json:"event"`
	}
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := json.Unmarshal(msg, &m); err != nil {
		b.bad++
		return ""
	}
	if m.Position != "" {
		b.position = m.Position
	}
	switch m.Type {
	case "hello":
		b.hellos++
		if m.Replayed != nil {
			b.replayed += *m.Replayed
		}
	case "reload":
		b.reloads++
	case "error":
		b.errorMsgs++
	default:
		k, ok := changeKey(m.TicketID, m.Event.Version)
		if !ok {
			b.bad++
			return m.Type
		}
		b.messages++
		if b.got[k] < 255 {
			b.got[k]++
		}
		if b.created != nil && m.Event.Version == 1 {
			if _, seen := b.created[k]; !seen {
				b.created[k] = now
			}
		}
	}
	return m.Type
}

// churn drops the connection the way a reloaded page does (close 1001);
// the reader resumes with since.
func (b *board) churn() {
	b.mu.Lock()
	conn := b.conn
	b.mu.Unlock()
	if conn == nil {
		return
	}
	b.churning.Store(true)
	_ = conn.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseGoingAway, "reload"), time.Now().Add(time.Second))
	conn.Close()
}

func (b *board) stop() {
	if b.closing.Swap(true) {
		return
	}
	b.mu.Lock()
	conn := b.conn
	b.mu.Unlock()
	if conn != nil {
		conn.Close()
	}
	select {
	case <-b.done:
	case <-time.After(20 * time.Second):
	}
}

// ---- exactly once ----------------------------------------------------------------------

// tally is what the boards received, against what the store says happened
// and what the load was told.
type tally struct {
	// Tickets.
	acked, inStore, createdCounter int
	lost                           int // acknowledged, not in the store
	unacked                        int // in the store, never acknowledged (may be unknown outcomes)
	unknown                        int // requests whose outcome the load could not learn
	shared                         int // one ticket acknowledged to two requests
	idemOK, idemBad                int
	// Board events: every version of every ticket a board may see.
	expected, delivered, missed, twice int
	perBoardMissed                     map[int]int
	replayed, resumes, reloads         int
	drops                              map[string]int
	bad, errorMsgs                     int
	// boardLatency is from a POST's answer to the first administrator's
	// board receiving ticket.created (negative clamped to zero: the push
	// may arrive before the answer).
	boardLatency []time.Duration
}

// tallyRun compares the ledger, the store and the boards. A board may see
// a ticket when it is the administrator's or the ticket lies in its
// committee's area (hotline.User.CanSeeTicket: committee staff keep sight
// of their area's tickets wherever they are routed), and then must have
// received versions 1 … the stored version exactly once each. Later
// versions (a time limit passing while the store was read) are allowed
// once.
func tallyRun(l *ledger, st *storeView, boards []*board) tally {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := tally{acked: len(l.byID), inStore: len(st.tickets), createdCounter: st.created, unknown: l.unknown,
		shared: l.shared, idemOK: l.idemOK, idemBad: l.idemBad,
		perBoardMissed: map[int]int{}, drops: map[string]int{}}
	if st.total > t.inStore {
		t.inStore = st.total
	}
	for id := range l.byID {
		if _, ok := st.tickets[id]; !ok {
			t.lost++
		}
	}
	for id := range st.tickets {
		if _, ok := l.byID[id]; !ok {
			t.unacked++
		}
	}
	for _, b := range boards {
		b.mu.Lock()
		seen := map[uint64]bool{}
		for id, s := range st.tickets {
			if !b.admin && s.committee != b.committee {
				continue
			}
			for v := int64(1); v <= s.version; v++ {
				k, ok := changeKey(id, v)
				if !ok {
					continue
				}
				seen[k] = true
				t.expected++
				switch n := b.got[k]; {
				case n == 0:
					t.missed++
					t.perBoardMissed[b.idx]++
				case n > 1:
					t.twice += int(n) - 1
				}
			}
		}
		for k, n := range b.got {
			t.delivered += int(n)
			if !seen[k] && n > 1 {
				t.twice += int(n) - 1
			}
		}
		t.replayed += b.replayed
		t.resumes += b.resumes
		t.reloads += b.reloads
		t.bad += b.bad
		t.errorMsgs += b.errorMsgs
		for k, n := range b.drops {
			t.drops[k] += n
		}
		if b.created != nil {
			for id, f := range l.byID {
				k, ok := changeKey(id, 1)
				if at, got := b.created[k]; ok && got {
					t.boardLatency = append(t.boardLatency, max(at.Sub(f.ackAt), 0))
				}
			}
		}
		b.mu.Unlock()
	}
	return t
}

// errors are the findings that fail the run.
func (t tally) errors() []error {
	var errs []error
	if t.lost > 0 {
		errs = append(errs, fmt.Errorf("%d acknowledged tickets are not in the store", t.lost))
	}
	if t.unacked > t.unknown {
		errs = append(errs, fmt.Errorf("%d tickets in the store were never acknowledged, more than the %d requests of unknown outcome: duplicates", t.unacked, t.unknown))
	}
	if t.shared > 0 {
		errs = append(errs, fmt.Errorf("%d acknowledgements named a ticket another request had been given", t.shared))
	}
	if t.idemBad > 0 {
		errs = append(errs, fmt.Errorf("%d repeated idempotency keys did not bring back their ticket", t.idemBad))
	}
	if t.createdCounter != t.inStore {
		errs = append(errs, fmt.Errorf("the server counted %d tickets created, the store holds %d", t.createdCounter, t.inStore))
	}
	if t.missed > 0 {
		errs = append(errs, fmt.Errorf("%d ticket changes never reached a board that may see them", t.missed))
	}
	if t.twice > 0 {
		errs = append(errs, fmt.Errorf("%d ticket changes reached a board more than once", t.twice))
	}
	if t.reloads > 0 || t.errorMsgs > 0 || t.bad > 0 {
		errs = append(errs, fmt.Errorf("boards got %d reloads, %d error messages and %d unreadable messages", t.reloads, t.errorMsgs, t.bad))
	}
	return errs
}
