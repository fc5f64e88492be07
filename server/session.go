package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/caojiadu/hotline"
)

// SessionCookie is the name of the staff session cookie.
const SessionCookie = "hotline_session"

// CSRFHeader must carry the session's CSRF token on every cookie-
// authenticated unsafe request except login.
const CSRFHeader = "X-CSRF-Token"

// auth is the signed-in state of one request. It is resolved lazily: a
// page or a stylesheet sent with the cookie costs no store round trip.
type auth struct {
	once    sync.Once
	load    func() (*hotline.User, *hotline.Session, error)
	user    *hotline.User
	session *hotline.Session
	err     error
}

func (a *auth) get() (*hotline.User, *hotline.Session, error) {
	a.once.Do(func() { a.user, a.session, a.err = a.load() })
	return a.user, a.session, a.err
}

// authenticate puts the request's session (if any) in its context and
// enforces the CSRF token: a cookie-authenticated POST, PUT, PATCH or DELETE
// must echo the session's token in X-CSRF-Token. The origin check has
// already refused cross-site browsers; the token also stops a same-site
// page that is not ours (another app under the same registrable domain).
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := &auth{}
		ctx := r.Context()
		a.load = func() (*hotline.User, *hotline.Session, error) { return s.loadSession(ctx, w, r) }
		r = r.WithContext(context.WithValue(ctx, authKey, a))

		if unsafeMethod(r.Method) && !s.csrfExempt(r) {
			_, sess, err := a.get()
			if err != nil {
				Error(w, r, err)
				return
			}
			if sess != nil {
				got := r.Header.Get(CSRFHeader)
				if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRFToken)) != 1 {
					Error(w, r, hotline.Errorf(hotline.EFORBIDDEN, "missing or wrong CSRF token"))
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// csrfExempt lists the unsafe requests that may come without the token.
// Login has no session yet (an old cookie may linger, and must not lock
// the user out); the origin check still guards it against login CSRF.
// Twilio's webhooks and the phone simulator act for a caller, never for
// the signed-in user: a staff member trying the simulator in the browser
// they work in must not be refused for the cookie it carries.
func (s *Server) csrfExempt(r *http.Request) bool {
	p := r.URL.Path
	return p == "/api/v1/login" || strings.HasPrefix(p, "/twilio/") || strings.HasPrefix(p, "/sim/")
}

func unsafeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return false
	}
	return true
}

// loadSession resolves the cookie to a session and its user. No cookie, an
// unknown or expired session, or a deleted user all mean "not signed in"
// (nil, nil, nil); only a store failure is an error.
//
// A cookie that no longer stands for a session is ended on both sides:
// the session is deleted from the store (Redis expires keys by its own
// clock, and lazily; the session's ExpiresAt is what counts, so one past
// it may linger there) and the browser is told to drop the cookie, so the
// answer (401 where signing in is needed) is the last one it brings.
func (s *Server) loadSession(ctx context.Context, w http.ResponseWriter, r *http.Request) (*hotline.User, *hotline.Session, error) {
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" || s.Users == nil {
		return nil, nil, nil
	}
	// Tokens we hand out are 43 characters; anything much longer is not
	// ours and need not reach the store.
	if len(c.Value) > 128 {
		return nil, nil, nil
	}
	ended := func() (*hotline.User, *hotline.Session, error) {
		if err := s.Users.DeleteSession(ctx, c.Value); err != nil {
			return nil, nil, err
		}
		http.SetCookie(w, s.sessionCookie(r, "", -1))
		return nil, nil, nil
	}
	sess, err := s.Users.FindSession(ctx, c.Value)
	if hotline.ErrorCode(err) == hotline.ENOTFOUND {
		return ended()
	} else if err != nil {
		return nil, nil, err
	}
	u, err := s.Users.FindUserByID(ctx, sess.UserID)
	if hotline.ErrorCode(err) == hotline.ENOTFOUND {
		return ended()
	} else if err != nil {
		return nil, nil, err
	}
	return u, sess, nil
}

// currentUser returns the signed-in user of r, nil when there is none.
// The error is a store failure, to be answered with 503 rather than taken
// for "not signed in".
func currentUser(r *http.Request) (*hotline.User, *hotline.Session, error) {
	a, ok := r.Context().Value(authKey).(*auth)
	if !ok {
		return nil, nil, nil
	}
	return a.get()
}

// requireUser is currentUser that answers 401 itself when nobody is
// signed in. It returns nil after writing the answer.
func requireUser(w http.ResponseWriter, r *http.Request) (*hotline.User, *hotline.Session) {
	u, sess, err := currentUser(r)
	if err != nil {
		Error(w, r, err)
		return nil, nil
	}
	if u == nil {
		Error(w, r, hotline.Errorf(hotline.EUNAUTHORIZED, "please sign in"))
		return nil, nil
	}
	return u, sess
}

// UserFromContext returns the staff user signed in on the request whose
// context this is, or nil for an anonymous request (or when the store
// cannot be reached: handlers that must tell the two apart should treat
// nil as 401). It works in every handler registered on the Server.
func UserFromContext(ctx context.Context) *hotline.User {
	a, ok := ctx.Value(authKey).(*auth)
	if !ok {
		return nil
	}
	u, _, _ := a.get()
	return u
}

// newSession stores a fresh session for u and sets its cookie.
func (s *Server) newSession(w http.ResponseWriter, r *http.Request, u *hotline.User) (*hotline.Session, error) {
	token, err := randomToken()
	if err != nil {
		return nil, hotline.Internal(err)
	}
	csrf, err := randomToken()
	if err != nil {
		return nil, hotline.Internal(err)
	}
	now := time.Now().UTC()
	sess := &hotline.Session{Token: token, UserID: u.ID, CSRFToken: csrf,
		CreatedAt: now, ExpiresAt: now.Add(s.Config.SessionTTL)}
	if err := s.Users.CreateSession(r.Context(), sess); err != nil {
		return nil, err
	}
	http.SetCookie(w, s.sessionCookie(r, token, s.Config.SessionTTL))
	return sess, nil
}

// sessionCookie is the cookie holding token for ttl; a ttl below zero
// deletes it. SameSite=Lax keeps it off cross-site POSTs while a link from
// a message to /staff still arrives signed in. It is Secure when the
// public URL is https or the request itself came over TLS.
func (s *Server) sessionCookie(r *http.Request, token string, ttl time.Duration) *http.Cookie {
	c := &http.Cookie{Name: SessionCookie, Value: token, Path: "/",
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.secure || r.TLS != nil}
	if ttl < 0 {
		c.MaxAge = -1
	} else {
		c.MaxAge = int(ttl / time.Second)
	}
	return c
}

// randomToken returns 32 random bytes, base64url without padding: 256
// bits, out of reach of guessing however many requests are made.
func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
