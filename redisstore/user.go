package redisstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/redis/go-redis/v9"
)

// UserStore keeps staff users and their sessions.
//
// Users are few (a street's staff and volunteers: hundreds at most) and
// change rarely, so listing reads them all. The user record, the username
// claim and the listing entry live under different slots on a Cluster and
// are written one after the other: the username claim first, so a crash in
// between leaves at worst a claimed name with no user, which lookups treat
// as "not found" and an administrator can free by deleting the key.
type UserStore struct {
	db *DB
}

var _ hotline.UserStore = (*UserStore)(nil)

// NewUserStore returns a user store on db.
func NewUserStore(db *DB) *UserStore { return &UserStore{db: db} }

// storedUser is User with its password hash, which User hides from JSON so
// that no API answer can carry it.
type storedUser struct {
	hotline.User
	PasswordHash string `json:"password_hash,omitempty"`
}

// ValidUsername reports whether name is 2..64 characters of lowercase ASCII
// letters, digits, '.', '_' or '-': easy to type on any keyboard, safe in a
// key name, and free of look-alike letters.
func ValidUsername(name string) bool {
	if len(name) < 2 || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// CreateUser implements hotline.UserStore. It sets u.ID and, when zero,
// u.CreatedAt.
func (s *UserStore) CreateUser(ctx context.Context, u *hotline.User) error {
	if u == nil {
		return hotline.Errorf(hotline.EINVALID, "no user given")
	}
	fe := hotline.FieldErrors{}
	if !ValidUsername(u.Username) {
		fe.Add("username", "use 2 to 64 lowercase letters, digits, '.', '_' or '-'")
	}
	if !u.Role.Valid() {
		fe.Add("role", "unknown role")
	}
	if err := fe.Err(); err != nil {
		return err
	}
	id, err := randomHex(8)
	if err != nil {
		return hotline.Internal(err)
	}
	c := *u
	c.ID = id
	if c.CreatedAt.IsZero() {
		c.CreatedAt = time.Now().UTC()
	}
	b, err := json.Marshal(storedUser{User: c, PasswordHash: c.PasswordHash})
	if err != nil {
		return hotline.Internal(err)
	}
	nameKey := s.db.key("username", c.Username)
	ok, err := s.db.client.SetNX(ctx, nameKey, id, 0).Result()
	if err != nil {
		return storeErr(err)
	} else if !ok {
		return hotline.Errorf(hotline.ECONFLICT, "username already taken")
	}
	pipe := s.db.client.Pipeline()
	pipe.Set(ctx, s.db.key("user", id), b, 0)
	pipe.ZAdd(ctx, s.db.key("users"), redis.Z{Score: float64(c.CreatedAt.UnixMilli()), Member: id})
	if _, err := pipe.Exec(ctx); err != nil {
		// Free the name again so the caller's retry is not refused; if this
		// fails too, the claim points at no user and reads as not found.
		s.db.client.Del(context.WithoutCancel(ctx), nameKey)
		return storeErr(err)
	}
	*u = c
	return nil
}

// FindUserByID implements hotline.UserStore.
func (s *UserStore) FindUserByID(ctx context.Context, id string) (*hotline.User, error) {
	if id == "" {
		return nil, userNotFound()
	}
	b, err := s.db.client.Get(ctx, s.db.key("user", id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, userNotFound()
	} else if err != nil {
		return nil, storeErr(err)
	}
	return decodeUser(b)
}

// FindUserByUsername implements hotline.UserStore. Usernames are stored in
// lowercase, so a name typed with capitals still finds its user.
func (s *UserStore) FindUserByUsername(ctx context.Context, username string) (*hotline.User, error) {
	username = strings.ToLower(username)
	if !ValidUsername(username) {
		return nil, userNotFound()
	}
	id, err := s.db.client.Get(ctx, s.db.key("username", username)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, userNotFound()
	} else if err != nil {
		return nil, storeErr(err)
	}
	return s.FindUserByID(ctx, id)
}

// ListUsers implements hotline.UserStore.
func (s *UserStore) ListUsers(ctx context.Context) ([]*hotline.User, error) {
	ids, err := s.db.client.ZRange(ctx, s.db.key("users"), 0, -1).Result()
	if err != nil {
		return nil, storeErr(err)
	}
	if len(ids) == 0 {
		return []*hotline.User{}, nil
	}
	// One GET per user in a pipeline rather than MGET: on a Cluster the
	// user keys live in different slots.
	pipe := s.db.client.Pipeline()
	cmds := make([]*redis.StringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.Get(ctx, s.db.key("user", id))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, storeErr(err)
	}
	out := make([]*hotline.User, 0, len(ids))
	for _, c := range cmds {
		b, err := c.Bytes()
		if errors.Is(err, redis.Nil) {
			continue
		} else if err != nil {
			return nil, storeErr(err)
		}
		u, err := decodeUser(b)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b *hotline.User) int { return strings.Compare(a.Username, b.Username) })
	return out, nil
}

func userNotFound() error { return hotline.Errorf(hotline.ENOTFOUND, "no such user") }

func decodeUser(b []byte) (*hotline.User, error) {
	var su storedUser
	if err := json.Unmarshal(b, &su); err != nil {
		return nil, hotline.Internal(fmt.Errorf("decode stored user: %w", err))
	}
	u := su.User
	u.PasswordHash = su.PasswordHash
	return &u, nil
}

// sessionKey names a session by the SHA-256 of its token: the key space
// can be listed (SCAN, MONITOR, a backup), and a listed key must not be
// usable as a cookie.
func (s *UserStore) sessionKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return s.db.key("session", hex.EncodeToString(sum[:]))
}

// CreateSession implements hotline.UserStore. Errors: EINVALID for a
// session without a token or already expired, EUNAVAILABLE.
func (s *UserStore) CreateSession(ctx context.Context, sess *hotline.Session) error {
	if sess == nil || sess.Token == "" {
		return hotline.Errorf(hotline.EINVALID, "a session needs a token")
	}
	ttl := time.Until(sess.ExpiresAt)
	if ttl < time.Millisecond {
		return hotline.Errorf(hotline.EINVALID, "the session has already expired")
	}
	b, err := json.Marshal(sess)
	if err != nil {
		return hotline.Internal(err)
	}
	return storeErr(s.db.client.Set(ctx, s.sessionKey(sess.Token), b, ttl).Err())
}

// FindSession implements hotline.UserStore.
func (s *UserStore) FindSession(ctx context.Context, token string) (*hotline.Session, error) {
	if token == "" {
		return nil, sessionNotFound()
	}
	b, err := s.db.client.Get(ctx, s.sessionKey(token)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, sessionNotFound()
	} else if err != nil {
		return nil, storeErr(err)
	}
	var sess hotline.Session
	if err := json.Unmarshal(b, &sess); err != nil {
		return nil, hotline.Internal(fmt.Errorf("decode stored session: %w", err))
	}
	// Redis expires keys lazily and by its own clock; the session's own
	// deadline is the one that counts.
	if !time.Now().Before(sess.ExpiresAt) {
		return nil, sessionNotFound()
	}
	sess.Token = token
	return &sess, nil
}

// DeleteSession implements hotline.UserStore.
func (s *UserStore) DeleteSession(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	return storeErr(s.db.client.Del(ctx, s.sessionKey(token)).Err())
}

func sessionNotFound() error {
	return hotline.Errorf(hotline.ENOTFOUND, "the session has ended; please sign in again")
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
