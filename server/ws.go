package server

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/caojiadu/hotline"
)

// Timing of a board connection, as in gorilla's chat example. A board
// sends nothing but pongs, so a connection that has not answered a ping
// within pongWait is dead; pings go out every pingPeriod, which must be
// less than pongWait so that a live board always answers in time.
const (
	writeWait = 10 * time.Second
	// deadlineSlack is how much of writeWait a message's write may find
	// already spent (see setWriteDeadline).
	deadlineSlack = time.Second
	pongWait      = 60 * time.Second
	pingPeriod    = pongWait * 9 / 10

	// wsReadLimit bounds a message from a board. Boards only answer
	// pings; anything bigger is a misbehaving client, closed with 1009.
	wsReadLimit = 4 << 10

	// wsReadBuffer is small on purpose: a board reads nothing but control
	// frames, and 10,000 idle boards each hold their read buffer for
	// hours. Writes use a pooled buffer, held only while a message is
	// written (see wsWriteBuffers).
	wsReadBuffer  = 512
	wsWriteBuffer = 4 << 10

	// historyPage is how many entries one ReadSince asks for when a board
	// resumes; historyPages bounds how far a resume reads (a board that far
	// behind would do better to reload, and the feed keeps less anyway).
	historyPage  = 500
	historyPages = 400
)

// wsQueue is how many messages may wait for one board: at a street's
// busiest (a few events a second per board) it is minutes of traffic, so
// only a board that stopped reading fills it. A variable for tests
// (ws_export_test.go), read once per connection.
var wsQueue atomic.Int64

// wsSendBuffer is each board socket's kernel send buffer (SO_SNDBUF), in
// bytes. Left to autotuning, Linux lets a board that stopped reading park
// up to 4 MiB in the kernel before our queue even starts to fill; 64 KiB
// is still dozens of messages and far more than a board's throughput
// needs, and bounds what 10,000 boards can pin. A variable for tests.
var wsSendBuffer atomic.Int64

// wsSessionCheck is how often an open board's session is looked up again,
// so that signing out (or an administrator ending the session) closes the
// board within a minute instead of at the session's expiry. One small GET
// per board per interval. A variable for tests.
var wsSessionCheck atomic.Int64

func init() {
	wsQueue.Store(256)
	wsSendBuffer.Store(64 << 10)
	wsSessionCheck.Store(int64(pingPeriod))
}

// wsWriteBuffers is shared by every board's connection: an idle board
// holds no write buffer.
var wsWriteBuffers = &sync.Pool{}

// closeCode is a websocket close code the server sends. The 4000s are
// the hotline's own (docs/API.md, "Live feed").
type closeCode int

const (
	closeGoingAway closeCode = websocket.CloseGoingAway // 1001: replica shutting down
	closeSlow      closeCode = 4008                     // queue full: the board did not keep up
	closeSession   closeCode = 4401                     // the session expired
	closeBadSince  closeCode = 4400                     // since is not a position
	closeFeedGone  closeCode = 4503                     // the feed cannot be read (Redis lost)
)

// closeReason is the text sent with each code: it tells the board what to do.
func (c closeCode) reason() string {
	switch c {
	case closeGoingAway:
		return "server shutting down: reconnect with since"
	case closeSlow:
		return "slow: reconnect with since"
	case closeSession:
		return "session expired: sign in again"
	case closeBadSince:
		return "bad since: reconnect without since and reload"
	case closeFeedGone:
		return "feed unavailable: reconnect with since"
	}
	return ""
}

// client is one board's connection.
type client struct {
	conn    *websocket.Conn
	user    *hotline.User
	expires time.Time
	// alive reports whether the board's session still exists (nil: no
	// check, e.g. a session-less test server).
	alive func() bool
	send  chan *frame
	group *group // guarded by hub.mu

	// kick is closed to end the connection: by the hub (code says why,
	// and the board is told) or by the read pump when the board has gone
	// (code 0: nothing to tell). One channel, not two, keeps the writer's
	// select small: it runs once per message per board.
	kick     chan struct{}
	kicked   atomic.Bool // set just before kick is closed
	kickOnce sync.Once
	code     closeCode // set before kicked

	// deadline is the write deadline last set by write or writeFrame
	// (the writer goroutine's alone); see setWriteDeadline.
	deadline time.Time
}

func (c *client) kickWith(code closeCode) {
	c.kickOnce.Do(func() {
		c.code = code
		c.kicked.Store(true)
		close(c.kick)
	})
}

// setWriteDeadline gives the next write at least writeWait-deadlineSlack to
// finish. It moves the socket's deadline only when less than that is left,
// about once a second on a busy board rather than on every message:
// resetting a deadline is a timer operation on the hot path of every
// event and every board.
func (c *client) setWriteDeadline() {
	now := time.Now()
	if c.deadline.Sub(now) >= writeWait-deadlineSlack {
		return
	}
	c.deadline = now.Add(writeWait)
	c.conn.SetWriteDeadline(c.deadline)
}

// controlMessage is a message that is not a ticket change: hello (live from
// position on), reload (history is gone: reload the tickets, then live from
// position on) or error (then the connection closes).
type controlMessage struct {
	Type     string `json:"type"`
	Position string `json:"position,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Replayed *int   `json:"replayed,omitempty"`
	Code     string `json:"code,omitempty"`
	Error    string `json:"error,omitempty"`
}

func (s *Server) registerWSRoutes() {
	h := newHub(s.Feed, s.Directory, s.Logger, s.Registry)
	s.OnShutdown(h.stop)
	up := &websocket.Upgrader{
		ReadBufferSize:  wsReadBuffer,
		WriteBufferSize: wsWriteBuffer,
		WriteBufferPool: wsWriteBuffers,
		// handleWS has checked the origin already, with the rule every
		// unsafe request meets, and answered in the API's error shape.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	s.mux.Handle("GET /ws", s.handleWS(h, up))
}

// handleWS upgrades a signed-in board to the live feed (docs/API.md).
// Everything that can be refused is refused before the upgrade, with the
// API's error body, except a bad since: a browser cannot read a refused
// handshake's body, so that one is told over the socket.
func (s *Server) handleWS(h *hub, up *websocket.Upgrader) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A GET passes the middleware's origin check; a websocket
		// handshake carries the cookie across sites, so it must not.
		post := r.WithContext(r.Context())
		post.Method = http.MethodPost
		if err := s.origins.Check(post); err != nil {
			Error(w, r, hotline.Errorf(hotline.EFORBIDDEN, "cross-origin request refused"))
			return
		}
		u, sess := requireUser(w, r)
		if u == nil {
			return
		}
		if u.Role == hotline.RoleVolunteer {
			// The board follows every ticket of a unit; a volunteer may see
			// only the tickets assigned to them (GET /api/v1/tickets).
			Error(w, r, hotline.Errorf(hotline.EFORBIDDEN, "the live board is for staff; volunteers find their tasks under /api/v1/tickets"))
			return
		}
		if s.Feed == nil {
			Error(w, r, hotline.Errorf(hotline.EUNAVAILABLE, "the live feed is not configured"))
			return
		}
		if !websocket.IsWebSocketUpgrade(r) {
			Error(w, r, hotline.Errorf(hotline.EINVALID, "this endpoint speaks websocket only"))
			return
		}
		if err := h.start(r.Context()); err != nil {
			Error(w, r, err)
			return
		}
		since, sinceErr := r.URL.Query().Get("since"), error(nil)
		var from hotline.FeedPosition
		if since != "" {
			from, sinceErr = hotline.ParseFeedPosition(since, s.Feed.Partitions())
		}
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return // Upgrade answered the client already
		}
		if tc, ok := conn.NetConn().(*net.TCPConn); ok {
			_ = tc.SetWriteBuffer(int(wsSendBuffer.Load()))
		}
		c := &client{conn: conn, user: u, send: make(chan *frame, wsQueue.Load()),
			kick: make(chan struct{})}
		if sess != nil {
			c.expires = sess.ExpiresAt
			token := sess.Token
			c.alive = func() bool {
				ctx, cancel := context.WithTimeout(context.Background(), writeWait)
				defer cancel()
				_, err := s.Users.FindSession(ctx, token)
				// Only a session known to be gone ends the board: a
				// store that does not answer is not a sign-out.
				return hotline.ErrorCode(err) != hotline.ENOTFOUND
			}
		}
		if sinceErr != nil {
			c.refuse(sinceErr)
			return
		}
		at, err := h.subscribe(c)
		if err != nil { // the hub failed since start: rare, and retried by the board
			c.closeWith(closeFeedGone)
			conn.Close()
			return
		}
		// Both pumps get their own small goroutines; this handler's
		// (with the middleware's frames on its stack) ends now.
		r0 := resume{feed: s.Feed, dir: s.Directory, user: u, since: from, at: at}
		go c.writePump(&r0)
		go c.readPump(h)
	})
}

// refuse tells a board why its request cannot be served, then closes.
func (c *client) refuse(err error) {
	defer c.conn.Close()
	b, _ := json.Marshal(controlMessage{Type: "error", Code: hotline.ErrorCode(err), Error: hotline.ErrorMessage(err)})
	c.conn.SetWriteDeadline(time.Now().Add(writeWait))
	if c.conn.WriteMessage(websocket.TextMessage, b) == nil {
		c.closeWith(closeBadSince)
	}
}

// closeWith sends a close frame; the caller closes the connection. Code 0
// sends nothing (the board is gone).
func (c *client) closeWith(code closeCode) {
	if code == 0 {
		return
	}
	msg := websocket.FormatCloseMessage(int(code), code.reason())
	_ = c.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(writeWait))
}

// readPump reads (and drops) whatever the board sends, which keeps pongs
// and close frames flowing, and notices a dead connection by its read
// deadline. When it ends the board is gone.
func (c *client) readPump(h *hub) {
	defer func() {
		h.unsubscribe(c)
		c.kickWith(0) // gone: the writer stops without a close frame
		c.conn.Close()
	}()
	c.conn.SetReadLimit(wsReadLimit)
	c.conn.SetReadDeadline(time.Now().Add(pongWait))
	c.conn.SetPongHandler(func(string) error {
		return c.conn.SetReadDeadline(time.Now().Add(pongWait))
	})
	for {
		// Each message is read to its end and discarded, never buffered.
		// Reading it through is what enforces the read limit: gorilla
		// counts a message's length across its frames only while its
		// reader is read, and NextReader alone would skip the frames of
		// a fragmented message one by one, however many there are.
		_, r, err := c.conn.NextReader()
		if err != nil {
			return
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			return // past wsReadLimit: gorilla has sent close 1009
		}
	}
}

// writePump is the only writer of the connection (besides the close and
// pong frames, which gorilla lets any goroutine send). It first brings the
// board up to date (r), then writes live frames until the hub kicks the
// board or the connection fails.
func (c *client) writePump(r *resume) {
	// One ticker for the session check and the ping (the check comes at
	// least as often), so the select below has three cases.
	every := min(time.Duration(wsSessionCheck.Load()), pingPeriod)
	ticker := time.NewTicker(every)
	lastPing := time.Now()
	defer func() {
		ticker.Stop()
		c.conn.Close()
	}()
	var own hotline.FeedPosition // nil: the board is at the hub's position
	if r != nil {
		var err error
		if own, err = r.run(c); err != nil {
			if code := hotline.ErrorCode(err); code == hotline.EINVALID {
				c.closeWith(closeBadSince)
			} else if code == hotline.EUNAVAILABLE {
				c.closeWith(closeFeedGone)
			}
			return
		}
	}
	for {
		// A kicked board is closed before anything else is written:
		// the close code is what tells it to reconnect with since.
		if c.kicked.Load() {
			c.closeWith(c.code)
			return
		}
		select {
		case <-c.kick:
			c.closeWith(c.code)
			return
		case f := <-c.send:
			if own != nil {
				// Catching up after a resume: this board's position
				// is its own until it meets the hub's.
				if !own.Advance(f.partition, f.id) {
					continue // replayed from history already
				}
				if !merge(own, f.pos) {
					if err := c.write(withPosition(f.prefix, own)); err != nil {
						return
					}
					continue
				}
				own = nil
			}
			if err := c.writeFrame(f); err != nil {
				return
			}
		case now := <-ticker.C:
			if !c.expires.IsZero() && now.After(c.expires) || c.alive != nil && !c.alive() {
				c.closeWith(closeSession)
				return
			}
			// A tick may come a little early: ping at 9/10 of the period
			// or later, well before the board's pongWait runs out.
			if now.Sub(lastPing) >= pingPeriod*9/10 {
				lastPing = now
				if err := c.conn.WriteControl(websocket.PingMessage, nil, now.Add(writeWait)); err != nil {
					return
				}
			}
		}
	}
}

func (c *client) write(data []byte) error {
	c.setWriteDeadline()
	return c.conn.WriteMessage(websocket.TextMessage, data)
}

// writeFrame writes a shared frame, framed once for every board.
func (c *client) writeFrame(f *frame) error {
	if f.prepared == nil {
		return c.write(f.data)
	}
	c.setWriteDeadline()
	return c.conn.WritePreparedMessage(f.prepared)
}

func (c *client) writeJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return hotline.Internal(err)
	}
	return c.write(b)
}

// merge raises own to at least pos in every partition and reports whether
// own now equals pos. pos is the hub's position after an entry; the hub has
// queued every visible entry up to it, and the history covered what came
// before the board subscribed, so the board has seen all it may see up to
// the larger of the two.
func merge(own, pos hotline.FeedPosition) bool {
	equal := true
	for i := range own {
		switch hotline.CompareStreamIDs(own[i], pos[i]) {
		case -1:
			own[i] = pos[i]
		case 1:
			equal = false
		}
	}
	return equal
}

// resume brings a newly connected board up to the hub's position.
type resume struct {
	feed  hotline.Feed
	dir   hotline.Directory
	user  *hotline.User
	since hotline.FeedPosition // nil: a fresh board
	at    hotline.FeedPosition // the hub's position when the board subscribed
}

// run sends hello to a fresh board. For a board with since it replays the
// entries after since up to at that the user may see, then sends hello; when
// that history has been trimmed it sends reload instead. It returns the
// board's own position when that differs from at (nil when equal). Errors
// from the feed (EINVALID, EUNAVAILABLE) end the connection.
func (r *resume) run(c *client) (hotline.FeedPosition, error) {
	if r.since == nil {
		return nil, c.writeJSON(controlMessage{Type: "hello", Position: r.at.String()})
	}
	own := r.since.Copy()
	cur := r.since.Copy() // how far ReadSince has read, beyond at too
	v := newView(keyOf(r.user), r.dir.Network())
	replayed, complete := 0, false
	// The whole replay's reads; each write has its own deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for page := 0; page < historyPages && !complete; page++ {
		evs, err := r.feed.ReadSince(ctx, cur, historyPage)
		if hotline.ErrorCode(err) == hotline.EGONE {
			return nil, c.writeJSON(controlMessage{Type: "reload", Reason: "history gone", Position: r.at.String()})
		} else if err != nil {
			return nil, err
		}
		if len(evs) == 0 {
			complete = true
			break
		}
		for _, e := range evs {
			cur.Advance(e.Partition, e.StreamID)
			// Entries after at reach the board through the hub.
			if e.Event == nil || hotline.CompareStreamIDs(e.StreamID, r.at[e.Partition]) > 0 ||
				!own.Advance(e.Partition, e.StreamID) {
				continue
			}
			if !v.sees(&e.Ticket, e.Event.FromUnitID) {
				continue
			}
			if err := c.write(withPosition(messagePrefix(e), own)); err != nil {
				return nil, err
			}
			replayed++
		}
		// Beyond at the rest comes live.
		complete = reached(cur, r.at)
	}
	if !complete {
		// Too far behind to replay in one go: cheaper to reload.
		return nil, c.writeJSON(controlMessage{Type: "reload", Reason: "too far behind", Position: r.at.String()})
	}
	// Partitions where nothing after since was left up to at: the board
	// has seen everything there up to at as well.
	if merge(own, r.at) {
		own = nil
	}
	pos := r.at
	if own != nil {
		pos = own
	}
	return own, c.writeJSON(controlMessage{Type: "hello", Position: pos.String(), Replayed: &replayed})
}

// reached reports whether cur is at or after at in every partition.
func reached(cur, at hotline.FeedPosition) bool {
	for i := range at {
		if hotline.CompareStreamIDs(cur[i], at[i]) < 0 {
			return false
		}
	}
	return true
}
