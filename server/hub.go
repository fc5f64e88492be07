package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/caojiadu/hotline"
)

// hubRetry is how long a hub whose Tail failed waits before the next board
// may start it again, so that a Redis outage is not hammered by every
// reconnecting board at once.
const hubRetry = time.Second

// hub follows the feed for one Server and fans every entry out to the
// boards connected to this replica that may see it. Every replica runs its
// own hub on the same Redis streams, which is the fan-out between
// replicas: a change made through any replica reaches boards on all.
//
// The feed's Tail calls fanOut for each entry, one at a time (fanMu makes
// sure of it whatever the Feed does); fanOut builds the entry's message
// once and hands it to the boards' queues with non-blocking sends, under
// mu, which also guards the registry of boards. Handing over directly from
// the reading goroutine, rather than through a channel to a hub goroutine,
// saves a goroutine wake-up on the path of every event.
type hub struct {
	feed    hotline.Feed
	dir     hotline.Directory
	logger  *slog.Logger
	clients prometheus.Gauge
	drops   *prometheus.CounterVec

	startMu sync.Mutex // serializes starts, so two first boards start one Tail
	fanMu   sync.Mutex // serializes fanOut; held to write pos

	mu        sync.Mutex
	running   bool
	stopped   bool      // shut down for good
	failedAt  time.Time // when Tail last failed, for hubRetry
	cancel    context.CancelFunc
	pos       hotline.FeedPosition // after the last entry fanned out
	groups    map[viewKey]*group
	generated int // how many times the hub started: a client knows its hub run
}

// group is the boards that see exactly the same tickets (same role class
// and unit): the visibility test runs once per group, not once per board.
type group struct {
	key     viewKey
	view    *view
	clients map[*client]struct{}
}

// viewKey names what a user may see: admins see everything whatever their
// unit; volunteers see less than staff of the same unit (CanSeeTicket).
type viewKey struct {
	class string // "admin", "volunteer" or "staff"
	unit  string
}

func keyOf(u *hotline.User) viewKey {
	switch u.Role {
	case hotline.RoleAdmin:
		return viewKey{class: "admin"}
	case hotline.RoleVolunteer:
		return viewKey{class: "volunteer", unit: u.UnitID}
	}
	return viewKey{class: "staff", unit: u.UnitID}
}

// view is hotline.User.CanSeeTicket precomputed for one viewKey over one
// network, so that a check is two or three map lookups instead of walks up
// the unit tree. hub_test.go checks it against CanSeeTicket for every unit.
type view struct {
	net        *hotline.Network
	all        bool            // admin
	units      map[string]bool // the user's unit and every unit below it
	unplaced   bool            // tickets with no unit: tier-2+ staff
	committees bool            // staff (not volunteers) follow their committees' areas
}

func newView(k viewKey, n *hotline.Network) *view {
	v := &view{net: n, units: map[string]bool{}}
	switch {
	case k.class == "admin":
		v.all = true
	case k.unit == "" || n == nil:
		// No unit (or no network to place it in): nothing but what
		// admins see, which is nothing for this user.
	default:
		for _, id := range n.Subtree(k.unit) {
			v.units[id] = true
		}
		own, ok := n.Unit(k.unit)
		v.unplaced = ok && own.Tier >= hotline.TierStreet
		v.committees = k.class != "volunteer"
	}
	return v
}

// sees reports whether the ticket as summarized is visible, or the event
// moved it away from a unit that is (from): a board must see a ticket
// leave its queue, not only arrive in someone else's.
func (v *view) sees(s *hotline.TicketSummary, from string) bool {
	switch {
	case v.all:
		return true
	case s.UnitID == "" && v.unplaced:
		return true
	case s.UnitID != "" && v.units[s.UnitID]:
		return true
	case v.committees && s.Committee != "" && v.units[s.Committee]:
		return true
	}
	return from != "" && v.units[from]
}

func newHub(feed hotline.Feed, dir hotline.Directory, logger *slog.Logger, reg prometheus.Registerer) *hub {
	h := &hub{feed: feed, dir: dir, logger: logger, groups: map[viewKey]*group{},
		clients: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hotline_ws_connections",
			Help: "Live-board websocket connections open on this replica.",
		}),
		drops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hotline_ws_disconnects_total",
			Help: "Live-board connections closed by the server, by reason (slow, shutdown, feed).",
		}, []string{"reason"}),
	}
	if reg != nil {
		reg.MustRegister(h.clients, h.drops)
	}
	return h
}

// start makes sure the hub follows the feed. The first board starts it
// from the feed's head (nothing older is needed: a board that wants older
// entries asks with since, and reads them itself). Errors: EUNAVAILABLE
// (the feed cannot be read, or the server is shutting down).
func (h *hub) start(ctx context.Context) error {
	h.startMu.Lock()
	defer h.startMu.Unlock()
	h.mu.Lock()
	running, stopped, failedAt := h.running, h.stopped, h.failedAt
	h.mu.Unlock()
	switch {
	case stopped:
		return hotline.Errorf(hotline.EUNAVAILABLE, "the server is shutting down; reconnect")
	case running:
		return nil
	case time.Since(failedAt) < hubRetry:
		return hotline.Errorf(hotline.EUNAVAILABLE, "the live feed is unavailable; reconnect shortly")
	}
	head, err := h.feed.Head(ctx)
	if err != nil {
		return err
	}
	tctx, cancel := context.WithCancel(context.Background())
	h.fanMu.Lock()
	defer h.fanMu.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped { // Close came while we asked for the head
		cancel()
		return hotline.Errorf(hotline.EUNAVAILABLE, "the server is shutting down; reconnect")
	}
	h.running, h.cancel, h.pos = true, cancel, head.Copy()
	h.generated++
	go h.run(tctx, head, h.generated)
	return nil
}

// run reads the feed until ctx ends or Tail fails. On failure every board
// of this run is closed (they reconnect with since and lose nothing) and
// the next board to connect starts a new run.
func (h *hub) run(ctx context.Context, from hotline.FeedPosition, gen int) {
	err := h.feed.Tail(ctx, from, h.fanOut)
	if ctx.Err() != nil {
		return // stop closed the boards already
	}
	h.logger.Warn("live feed stopped", "err", err)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.generated == gen {
		h.running, h.failedAt = false, time.Now()
		h.cancel()
		h.dropAllLocked(closeFeedGone, "feed")
	}
}

// fanOut hands e to every board that may see it. The frame is built once
// and shared: every board following the hub is at the hub's position.
func (h *hub) fanOut(e hotline.FeedEvent) {
	if e.Event == nil {
		return
	}
	n := h.dir.Network()
	h.fanMu.Lock()
	defer h.fanMu.Unlock()
	// pos only changes under fanMu, so it may be read here without mu;
	// subscribe reads it under mu, so the new value is stored under mu.
	pos := h.pos.Copy()
	if !pos.Advance(e.Partition, e.StreamID) {
		return // already fanned out (a Tail that repeats itself)
	}
	f := newFrame(e, pos)

	h.mu.Lock()
	defer h.mu.Unlock()
	h.pos = pos
	for _, g := range h.groups {
		if g.view.net != n {
			g.view = newView(g.key, n) // the network was reloaded
		}
		if !g.view.sees(&e.Ticket, e.Event.FromUnitID) {
			continue
		}
		for c := range g.clients {
			select {
			case c.send <- f:
			default:
				// A full queue means the board has not read for a
				// while: drop it rather than make anyone else wait. It
				// reconnects with the position of the last message it
				// got and loses nothing.
				h.dropLocked(c, closeSlow, "slow")
			}
		}
	}
}

// subscribe registers c for live frames and returns the hub's position:
// every entry after it will be queued to c (if c may see it), none before.
// Errors: EUNAVAILABLE when the hub is not running.
func (h *hub) subscribe(c *client) (hotline.FeedPosition, error) {
	k := keyOf(c.user)
	n := h.dir.Network()
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.running {
		return nil, hotline.Errorf(hotline.EUNAVAILABLE, "the live feed is unavailable; reconnect shortly")
	}
	g := h.groups[k]
	if g == nil {
		g = &group{key: k, view: newView(k, n), clients: map[*client]struct{}{}}
		h.groups[k] = g
	}
	g.clients[c] = struct{}{}
	c.group = g
	h.clients.Inc()
	return h.pos.Copy(), nil
}

// unsubscribe forgets c; it is a no-op when c was already dropped.
func (h *hub) unsubscribe(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.removeLocked(c)
}

func (h *hub) removeLocked(c *client) {
	g := c.group
	if g == nil {
		return
	}
	delete(g.clients, c)
	if len(g.clients) == 0 && h.groups[g.key] == g {
		delete(h.groups, g.key)
	}
	c.group = nil
	h.clients.Dec()
}

// dropLocked removes c and tells its writer to close with code.
func (h *hub) dropLocked(c *client, code closeCode, reason string) {
	h.removeLocked(c)
	h.drops.WithLabelValues(reason).Inc()
	c.kickWith(code)
}

func (h *hub) dropAllLocked(code closeCode, reason string) {
	for _, g := range h.groups {
		for c := range g.clients {
			h.dropLocked(c, code, reason)
		}
	}
}

// stop ends the hub for good and closes every board with "going away";
// boards reconnect (to another replica) with since.
func (h *hub) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopped = true
	if h.cancel != nil {
		h.cancel()
	}
	h.running = false
	h.dropAllLocked(closeGoingAway, "shutdown")
}

// frame is one feed entry as a board message, shared by every board that
// gets it. data is the whole message with the hub's position after the
// entry, framed once for all boards (prepared); prefix is data up to the
// position's value, for a board whose own position differs (one that is
// catching up after a resume).
type frame struct {
	partition int
	id        string
	pos       hotline.FeedPosition // immutable once built
	prefix    []byte
	data      []byte
	prepared  *websocket.PreparedMessage
}

// eventMessage is a board message about one ticket change. Position comes
// last so that the rest can be built once and shared (see frame).
type eventMessage struct {
	Type     string                `json:"type"`
	TicketID string                `json:"ticket_id"`
	Ticket   hotline.TicketSummary `json:"ticket"`
	Event    eventBody             `json:"event"`
}

// eventBody is the event without what the message already says (type,
// ticket id) and without its stream id (the position replaces it).
type eventBody struct {
	At         time.Time      `json:"at"`
	Actor      string         `json:"actor"`
	Version    int64          `json:"version"`
	Status     hotline.Status `json:"status,omitempty"`
	UnitID     string         `json:"unit_id,omitempty"`
	FromUnitID string         `json:"from_unit_id,omitempty"`
	Note       string         `json:"note,omitempty"`
}

func newFrame(e hotline.FeedEvent, pos hotline.FeedPosition) *frame {
	f := &frame{partition: e.Partition, id: e.StreamID, pos: pos, prefix: messagePrefix(e)}
	f.data = withPosition(f.prefix, pos)
	// Only fails for a bad message type; boards then get data unframed.
	f.prepared, _ = websocket.NewPreparedMessage(websocket.TextMessage, f.data)
	return f
}

// messagePrefix marshals e's message and opens its position field:
// `{"type":…,"event":{…},"position":"`.
func messagePrefix(e hotline.FeedEvent) []byte {
	ev := e.Event
	b, err := json.Marshal(eventMessage{Type: ev.Type, TicketID: ev.TicketID, Ticket: e.Ticket,
		Event: eventBody{At: ev.At, Actor: ev.Actor, Version: ev.Version, Status: ev.Status,
			UnitID: ev.UnitID, FromUnitID: ev.FromUnitID, Note: ev.Note}})
	if err != nil {
		// Only strings, numbers and times: cannot fail, but a board
		// still learns that something happened to the ticket.
		b = []byte(`{"type":` + strconv.Quote(ev.Type) + `,"ticket_id":` + strconv.Quote(ev.TicketID) + `}`)
	}
	return append(b[:len(b)-1], `,"position":"`...)
}

// withPosition closes a prefix with pos. Positions are digits, '-' and
// '.', so they need no JSON escaping.
func withPosition(prefix []byte, pos hotline.FeedPosition) []byte {
	s := pos.String()
	out := make([]byte, 0, len(prefix)+len(s)+2)
	out = append(out, prefix...)
	out = append(out, s...)
	return append(out, '"', '}')
}
