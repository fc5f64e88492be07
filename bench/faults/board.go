package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/caojiadu/hotline"
)

// board is a live board (GET /ws) that records every message it gets and
// reconnects with the position of the last one, as the real board does:
// after its replica was killed, after Redis went away (close 4503), after
// its connection was cut.
type board struct {
	name     string
	user     *hotline.User
	replicas []*replica
	// roam: each reconnection goes to the next replica; else the board
	// sticks to its replica while it runs.
	roam    bool
	home    int
	cookies []*http.Cookie

	mu         sync.Mutex
	conn       *websocket.Conn
	start      hotline.FeedPosition // the first hello's position
	pos        hotline.FeedPosition // after the last message
	got        map[string]int       // "ticket v<version>" → times delivered
	order      []string
	reloads    []reload
	connects   int
	refused    int // handshakes refused (503: the feed cannot be read)
	closeCodes map[int]int
	drops      int // connections cut by the suite
}

// reload is a reload instruction: the board skips from since to position
// and reloads its tickets instead of replaying.
type reload struct {
	from, to hotline.FeedPosition
	reason   string
}

func newBoard(name string, u *hotline.User, replicas []*replica, home int, roam bool, cookies []*http.Cookie) *board {
	return &board{name: name, user: u, replicas: replicas, home: home, roam: roam, cookies: cookies,
		got: map[string]int{}, closeCodes: map[int]int{}}
}

type boardMessage struct {
	Type     string `json:"type"`
	TicketID string `json:"ticket_id"`
	Position string `json:"position"`
	Reason   string `json:"reason"`
	Code     string `json:"code"`
	Error    string `json:"error"`
	Event    struct {
		Version int64 `json:"version"`
	} `json:"event"`
}

// run keeps the board connected until ctx ends.
func (b *board) run(ctx context.Context, partitions int) {
	for turn, attempt := 0, 0; ctx.Err() == nil; turn++ {
		r := b.pick(turn)
		if r == nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if err := b.session(ctx, r, partitions); err != nil {
			attempt++
			time.Sleep(min(time.Duration(50<<min(attempt, 5))*time.Millisecond, time.Second))
			continue
		}
		attempt = 0
	}
}

// pick chooses the replica to connect to: the board's own while it runs
// (the next one up otherwise), or for a roaming board the next in turn.
func (b *board) pick(turn int) *replica {
	n := len(b.replicas)
	first := b.home
	if b.roam {
		first += turn
	}
	for i := range n {
		if r := b.replicas[(first+i)%n]; r.up() {
			return r
		}
	}
	return nil
}

// session is one connection, from the handshake until it ends. It
// returns an error when the handshake failed.
func (b *board) session(ctx context.Context, r *replica, partitions int) error {
	u := "ws://" + r.addr + "/ws"
	b.mu.Lock()
	if b.pos != nil {
		u += "?since=" + url.QueryEscape(b.pos.String())
	}
	b.mu.Unlock()
	h := http.Header{}
	h.Set("Cookie", cookieHeader(b.cookies))
	d := &websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, resp, err := d.DialContext(ctx, u, h)
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusServiceUnavailable {
			b.mu.Lock()
			b.refused++
			b.mu.Unlock()
		}
		return err
	}
	b.mu.Lock()
	b.conn = conn
	b.connects++
	b.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			if ce, ok := err.(*websocket.CloseError); ok {
				b.mu.Lock()
				b.closeCodes[ce.Code]++
				b.mu.Unlock()
			}
			return nil
		}
		var m boardMessage
		if err := json.Unmarshal(data, &m); err != nil {
			continue
		}
		pos, perr := hotline.ParseFeedPosition(m.Position, partitions)
		b.mu.Lock()
		switch m.Type {
		case "hello":
			if perr == nil {
				if b.start == nil {
					b.start = pos.Copy()
				}
				b.pos = pos
			}
		case "reload":
			if perr == nil {
				b.reloads = append(b.reloads, reload{from: b.pos.Copy(), to: pos, reason: m.Reason})
				b.pos = pos
			}
		case "error":
			b.closeCodes[-1]++
		default:
			k := fmt.Sprintf("%s v%d", m.TicketID, m.Event.Version)
			b.got[k]++
			b.order = append(b.order, k)
			if perr == nil {
				b.pos = pos
			}
		}
		b.mu.Unlock()
	}
}

// drop cuts the board's connection as a dead network would: the socket
// is reset (SO_LINGER 0), no close frame is sent.
func (b *board) drop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conn == nil {
		return
	}
	if tc, ok := b.conn.UnderlyingConn().(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = b.conn.UnderlyingConn().Close()
	b.conn = nil
	b.drops++
}

// cookieHeader is the Cookie header of a request carrying cookies.
func cookieHeader(cookies []*http.Cookie) string {
	parts := make([]string, len(cookies))
	for i, c := range cookies {
		parts[i] = c.Name + "=" + c.Value
	}
	return strings.Join(parts, "; ")
}

// login signs a user in through r and returns the session's cookies and
// CSRF token.
func login(r *replica, username, password string) ([]*http.Cookie, string, error) {
	body := fmt.Sprintf(`{"username":%q,"password":%q}`, username, password)
	resp, err := http.Post(r.url()+"/api/v1/login", "application/json", strings.NewReader(body))
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	var v struct {
		CSRF string `json:"csrf_token"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("login %s: %s", username, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return nil, "", err
	}
	return resp.Cookies(), v.CSRF, nil
}
