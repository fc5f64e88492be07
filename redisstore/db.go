// Package redisstore keeps the hotline's tickets, users, sessions, network,
// catalogue and rate-limit counters in Redis. It works on a standalone
// server, behind Sentinel and on Redis Cluster (every multi-key script
// touches keys of a single hash tag), and on miniredis, the embedded default
// store. docs/redis-keys.md lists every key it writes.
package redisstore

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"

	"github.com/caojiadu/hotline"
	"github.com/redis/go-redis/v9"
)

// DefaultPrefix starts every key when NewDB is given none, so that one Redis
// can hold several deployments (or test runs) side by side.
const DefaultPrefix = "hotline"

// DB is a Redis connection shared by the stores, with the key prefix they
// all write under.
type DB struct {
	client redis.UniversalClient
	prefix string
	// feedMaxLen is the MAXLEN every feed XADD trims to. It is feedMaxLen
	// except in tests that need trimming to happen after a few entries
	// (export_test.go); being per DB, such tests can run in parallel.
	feedMaxLen int64
	// pprefix[p] is "<prefix>:{pN}", built once: key names are made on
	// every request and formatting them showed in profiles.
	pprefix [partitions]string
	// batch pipelines the commands of concurrent requests (batch.go).
	batch *batcher
	// echo hands this process's own feed entries to its running tails
	// (echo.go).
	echo echoes
}

// NewDB wraps c. The caller keeps ownership of c and closes it. prefix must
// not contain '{' or '}': Cluster would take them for the hash tag and put
// every ticket partition in one slot.
func NewDB(c redis.UniversalClient, prefix string) *DB {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	db := &DB{client: c, prefix: prefix, feedMaxLen: feedMaxLen, batch: newBatcher(c)}
	for p := range db.pprefix {
		db.pprefix[p] = prefix + ":{p" + strconv.Itoa(p) + "}"
	}
	return db
}

// Client returns the underlying client, for health checks and for packages
// (such as the live board) that read the feed streams directly.
func (db *DB) Client() redis.UniversalClient { return db.client }

// Prefix returns the key prefix.
func (db *DB) Prefix() string { return db.prefix }

// Ping checks that the store answers. Errors: EUNAVAILABLE.
func (db *DB) Ping(ctx context.Context) error {
	return storeErr(db.client.Ping(ctx).Err())
}

// pkey names a key of partition p: "<prefix>:{pN}:<parts…>". The braces are
// the Cluster hash tag: only "pN" decides the slot.
func (db *DB) pkey(p int, parts ...string) string {
	return join(db.pprefix[p], parts)
}

func (db *DB) key(parts ...string) string { return join(db.prefix, parts) }

func join(head string, parts []string) string {
	n := len(head)
	for _, p := range parts {
		n += 1 + len(p)
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(head)
	for _, p := range parts {
		b.WriteByte(':')
		b.WriteString(p)
	}
	return b.String()
}

// ClientOptions says how to reach Redis. Exactly one of URL, SentinelMaster
// (with SentinelAddrs) or ClusterAddrs is set. Username and Password, when
// set, override any given in the URL.
type ClientOptions struct {
	URL            string
	SentinelMaster string
	SentinelAddrs  []string
	ClusterAddrs   []string
	Password       string
	Username       string
}

// NewClient builds a client for a standalone server (URL), a Sentinel-managed
// master or a Cluster. Errors: EINVALID when the options are incomplete or
// contradictory. Messages never repeat the URL: it may hold a password.
func NewClient(o ClientOptions) (redis.UniversalClient, error) {
	set := 0
	for _, b := range []bool{o.URL != "", o.SentinelMaster != "" || len(o.SentinelAddrs) > 0, len(o.ClusterAddrs) > 0} {
		if b {
			set++
		}
	}
	switch {
	case set == 0:
		return nil, hotline.Errorf(hotline.EINVALID, "redis: give a URL, a Sentinel master with its addresses, or cluster addresses")
	case set > 1:
		return nil, hotline.Errorf(hotline.EINVALID, "redis: give only one of URL, Sentinel or cluster addresses")
	}
	switch {
	case o.URL != "":
		opt, err := redis.ParseURL(o.URL)
		if err != nil {
			return nil, hotline.Errorf(hotline.EINVALID, "redis: the URL is not valid (expected redis://[user:password@]host:port/db or rediss://…)")
		}
		if o.Username != "" {
			opt.Username = o.Username
		}
		if o.Password != "" {
			opt.Password = o.Password
		}
		return redis.NewClient(opt), nil
	case len(o.ClusterAddrs) > 0:
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:    o.ClusterAddrs,
			Username: o.Username,
			Password: o.Password,
		}), nil
	default:
		if o.SentinelMaster == "" || len(o.SentinelAddrs) == 0 {
			return nil, hotline.Errorf(hotline.EINVALID, "redis: Sentinel needs both the master name and at least one Sentinel address")
		}
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName:    o.SentinelMaster,
			SentinelAddrs: o.SentinelAddrs,
			Username:      o.Username,
			Password:      o.Password,
		}), nil
	}
}

// storeErr turns a go-redis error into a hotline error: failures to reach or
// use the server are EUNAVAILABLE (the caller may retry), anything else is a
// bug or a surprise and becomes EINTERNAL. redis.Nil must be handled by the
// caller before, since only it knows what "missing" means.
func storeErr(err error) error {
	if err == nil {
		return nil
	}
	var he *hotline.Error
	if errors.As(err, &he) {
		return err
	}
	if unavailable(err) {
		return hotline.Unavailable(err)
	}
	return hotline.Internal(err)
}

func unavailable(err error) bool {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.Is(err, redis.ErrClosed), errors.Is(err, redis.ErrPoolTimeout), errors.Is(err, redis.ErrPoolExhausted),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.As(err, &ne):
		return true
	}
	// Server states that pass by themselves: a replica being promoted, a
	// dataset loading after restart, a cluster resharding, a long script,
	// and a primary run with min-replicas-to-write that has too few
	// replicas in sync (NOREPLICAS: during a Sentinel failover, until the
	// old primary rejoins as a replica, the write is refused, not lost).
	return redis.IsLoadingError(err) || redis.IsReadOnlyError(err) || redis.IsClusterDownError(err) ||
		redis.IsTryAgainError(err) || redis.IsMasterDownError(err) || redis.IsMaxClientsError(err) ||
		redis.HasErrorPrefix(err, "BUSY") || redis.HasErrorPrefix(err, "NOREPLICAS")
}
