// Package embedded runs the hotline's trial default store: an in-process,
// Redis-compatible server (miniredis) listening on a loopback port, whose
// data is snapshotted under the data directory so it survives a restart.
//
// Only one process owns a data directory's store at a time (an flock on
// data/store.lock). The owner writes its address to data/store.addr, so other
// commands on the same directory (`hotline user add` while `serve` runs)
// connect to it instead of opening the data a second time.
//
// It is for trying the hotline on a bare machine. It is not durable the way
// Redis with AOF is: a crash loses what changed since the last snapshot
// (snapshot_interval, 10s by default). Production uses a real Redis.
package embedded

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

const (
	lockFile     = "store.lock"
	addrFile     = "store.addr"
	snapshotFile = "store.json"
)

// ErrRunning is returned by Open when another process owns the directory;
// use Addr of that process through Locate.
var ErrRunning = errors.New("embedded store: another process owns this data directory")

// Store is an open embedded store.
type Store struct {
	dir    string
	m      *miniredis.Miniredis
	lock   *os.File
	client *redis.Client
	log    *slog.Logger

	mu       sync.Mutex // serialises snapshots
	stop     chan struct{}
	done     chan struct{}
	closeErr error
	once     sync.Once
}

// Open takes ownership of dir, loads its snapshot and starts serving on a
// loopback port. It snapshots every interval until Close.
func Open(dir string, interval time.Duration, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("embedded store: data directory: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, ErrRunning
	}
	s := &Store{dir: dir, lock: lock, log: log, m: miniredis.NewMiniRedis(),
		stop: make(chan struct{}), done: make(chan struct{})}
	// Keys expire by the wall clock, as in Redis: without this, miniredis
	// moves TTLs only when told to (FastForward), and a login limit, a
	// lock left by a killed run or an idempotency key would stay forever.
	s.m.ClockTTL(true)
	if err := s.m.StartAddr("127.0.0.1:0"); err != nil {
		s.release()
		return nil, fmt.Errorf("embedded store: listen: %w", err)
	}
	s.client = redis.NewClient(&redis.Options{Addr: s.m.Addr()})
	n, err := s.restore()
	if err != nil {
		s.m.Close()
		s.release()
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(dir, addrFile), []byte(s.m.Addr())); err != nil {
		s.m.Close()
		s.release()
		return nil, err
	}
	log.Info("embedded store: no Redis configured, running on the embedded trial store (not for production)",
		"dir", dir, "addr", s.m.Addr(), "keys_restored", n)
	go s.loop(interval)
	return s, nil
}

// Locate returns the address of the embedded store another process serves
// from dir, when one does.
func Locate(dir string) (string, bool) {
	lock, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR, 0o600)
	if err != nil {
		return "", false
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err == nil {
		// Nobody holds it: no live owner.
		syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
		return "", false
	}
	b, err := os.ReadFile(filepath.Join(dir, addrFile))
	if err != nil || len(b) == 0 {
		return "", false
	}
	return strings.TrimSpace(string(b)), true
}

// Addr is the loopback address clients connect to.
func (s *Store) Addr() string { return s.m.Addr() }

// URL is Addr as a redis:// URL.
func (s *Store) URL() string { return "redis://" + s.m.Addr() + "/0" }

func (s *Store) loop(interval time.Duration) {
	defer close(s.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if err := s.Snapshot(); err != nil {
				s.log.Error("embedded store: snapshot failed", "err", err)
			}
		}
	}
}

// Close writes a last snapshot, stops serving and releases the directory.
// Callers stop their own writers (the HTTP server) first, so the last
// snapshot holds everything that was acknowledged.
func (s *Store) Close() error {
	s.once.Do(func() {
		close(s.stop)
		<-s.done
		s.closeErr = s.Snapshot()
		s.client.Close()
		s.m.Close()
		os.Remove(filepath.Join(s.dir, addrFile))
		s.release()
	})
	return s.closeErr
}

func (s *Store) release() {
	syscall.Flock(int(s.lock.Fd()), syscall.LOCK_UN)
	s.lock.Close()
}

// dumpScript reads every key in one script, which the store runs
// atomically, so a snapshot never holds half of a multi-key write (a ticket
// without its event, say).
var dumpScript = redis.NewScript(`
local out = {}
for _, k in ipairs(redis.call('KEYS', '*')) do
  local t = redis.call('TYPE', k)
  if type(t) == 'table' then t = t['ok'] end
  local v
  local groups = {}
  if t == 'string' then v = redis.call('GET', k)
  elseif t == 'hash' then v = redis.call('HGETALL', k)
  elseif t == 'set' then v = redis.call('SMEMBERS', k)
  elseif t == 'zset' then v = redis.call('ZRANGE', k, 0, -1, 'WITHSCORES')
  elseif t == 'list' then v = redis.call('LRANGE', k, 0, -1)
  elseif t == 'stream' then
    v = redis.call('XRANGE', k, '-', '+')
    local ok, gs = pcall(redis.call, 'XINFO', 'GROUPS', k)
    if ok then
      for _, g in ipairs(gs) do
        local name, last
        for i = 1, #g, 2 do
          if g[i] == 'name' then name = g[i+1] end
          if g[i] == 'last-delivered-id' then last = g[i+1] end
        end
        if name then table.insert(groups, {name, last or '0'}) end
      end
    end
  end
  if v ~= nil then
    table.insert(out, {k, t, redis.call('PTTL', k), v, groups})
  end
end
return out
`)

type entry struct {
	Key    string            `json:"k"`
	Type   string            `json:"t"`
	TTLms  int64             `json:"ttl,omitempty"`
	String string            `json:"s,omitempty"`
	Items  []string          `json:"i,omitempty"` // hash field,value…; set members; zset member,score…; list
	Stream []streamEntry     `json:"x,omitempty"`
	Groups map[string]string `json:"g,omitempty"` // stream consumer group → last delivered id
}

type streamEntry struct {
	ID     string   `json:"id"`
	Fields []string `json:"f"`
}

type snapshot struct {
	Version int       `json:"version"`
	At      time.Time `json:"at"`
	Keys    []entry   `json:"keys"`
}

// Snapshot writes the whole store to data/store.json atomically (write a
// temporary file, fsync, rename), so a crash mid-write leaves the previous
// snapshot intact.
func (s *Store) Snapshot() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	raw, err := dumpScript.Run(ctx, s.client, nil).Slice()
	if err != nil {
		return fmt.Errorf("embedded store: dump: %w", err)
	}
	snap := snapshot{Version: 1, At: time.Now().UTC(), Keys: make([]entry, 0, len(raw))}
	for _, r := range raw {
		row, _ := r.([]any)
		if len(row) < 5 {
			continue
		}
		e := entry{Key: str(row[0]), Type: str(row[1])}
		if ttl, _ := row[2].(int64); ttl > 0 {
			e.TTLms = ttl
		}
		switch e.Type {
		case "string":
			e.String = str(row[3])
		case "stream":
			for _, x := range asSlice(row[3]) {
				pair := asSlice(x)
				if len(pair) != 2 {
					continue
				}
				se := streamEntry{ID: str(pair[0])}
				for _, f := range asSlice(pair[1]) {
					se.Fields = append(se.Fields, str(f))
				}
				e.Stream = append(e.Stream, se)
			}
			for _, g := range asSlice(row[4]) {
				pair := asSlice(g)
				if len(pair) == 2 {
					if e.Groups == nil {
						e.Groups = map[string]string{}
					}
					e.Groups[str(pair[0])] = str(pair[1])
				}
			}
		default:
			for _, x := range asSlice(row[3]) {
				e.Items = append(e.Items, str(x))
			}
		}
		snap.Keys = append(snap.Keys, e)
	}
	b, err := json.Marshal(snap)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(s.dir, snapshotFile), b)
}

func (s *Store) restore() (int, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, snapshotFile))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	} else if err != nil {
		return 0, fmt.Errorf("embedded store: read snapshot: %w", err)
	}
	var snap snapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		return 0, fmt.Errorf("embedded store: snapshot %s is damaged (%v); move it aside to start empty", filepath.Join(s.dir, snapshotFile), err)
	}
	ctx := context.Background()
	pipe := s.client.Pipeline()
	for _, e := range snap.Keys {
		switch e.Type {
		case "string":
			pipe.Set(ctx, e.Key, e.String, 0)
		case "hash":
			if len(e.Items) > 0 {
				pipe.HSet(ctx, e.Key, toAny(e.Items)...)
			}
		case "set":
			if len(e.Items) > 0 {
				pipe.SAdd(ctx, e.Key, toAny(e.Items)...)
			}
		case "zset":
			for i := 0; i+1 < len(e.Items); i += 2 {
				score, err := strconv.ParseFloat(e.Items[i+1], 64)
				if err != nil {
					return 0, fmt.Errorf("embedded store: snapshot key %q: bad score", e.Key)
				}
				pipe.ZAdd(ctx, e.Key, redis.Z{Member: e.Items[i], Score: score})
			}
		case "list":
			if len(e.Items) > 0 {
				pipe.RPush(ctx, e.Key, toAny(e.Items)...)
			}
		case "stream":
			for _, x := range e.Stream {
				pipe.XAdd(ctx, &redis.XAddArgs{Stream: e.Key, ID: x.ID, Values: toAny(x.Fields)})
			}
			for g, last := range e.Groups {
				pipe.XGroupCreateMkStream(ctx, e.Key, g, last)
			}
		}
		if e.TTLms > 0 {
			pipe.PExpire(ctx, e.Key, time.Duration(e.TTLms)*time.Millisecond)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, fmt.Errorf("embedded store: restore: %w", err)
	}
	return len(snap.Keys), nil
}

func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
