package server

import (
	"net/http"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"

	"github.com/caojiadu/hotline"
)

// PasswordCost is the bcrypt cost of new password hashes: about 50 ms on
// a small server, slow for an offline guesser and unnoticed at login. One
// step higher doubles the CPU every login attempt costs us, and logins are
// what an attacker can send from many addresses.
const PasswordCost = bcrypt.DefaultCost

// passwordCost is PasswordCost, lowered by the tests: under the race
// detector one bcrypt at full cost takes seconds.
var passwordCost = PasswordCost

// maxPassword is bcrypt's limit: it reads only the first 72 bytes, so a
// longer password would be silently cut and is refused instead.
const maxPassword = 72

// HashPassword returns the bcrypt hash of pw to keep as User.PasswordHash.
// Errors: EINVALID for an empty password or one over 72 bytes.
func HashPassword(pw string) (string, error) {
	if pw == "" {
		return "", hotline.Errorf(hotline.EINVALID, "the password is empty")
	}
	if len(pw) > maxPassword {
		return "", hotline.Errorf(hotline.EINVALID, "the password is longer than %d bytes", maxPassword)
	}
	b, err := bcrypt.GenerateFromPassword([]byte(pw), passwordCost)
	if err != nil {
		return "", hotline.Internal(err)
	}
	return string(b), nil
}

// CheckPassword reports whether pw matches a hash made by HashPassword.
func CheckPassword(hash, pw string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
}

// dummyHash is compared against when the username is unknown, so that
// "no such user" takes as long as "wrong password" (hashes made by
// HashPassword have the same cost) and timing does not tell which
// usernames exist.
var dummyHash = sync.OnceValue(func() string {
	h, _ := bcrypt.GenerateFromPassword([]byte("not a password anyone has"), passwordCost)
	return string(h)
})

func (s *Server) registerUserRoutes() {
	s.mux.HandleFunc("POST /api/v1/login", s.handleLogin)
	s.mux.HandleFunc("POST /api/v1/logout", s.handleLogout)
	s.mux.HandleFunc("GET /api/v1/me", s.handleMe)
}

// sessionView is the answer of login and me: who is signed in and the
// token the pages must send back in X-CSRF-Token.
type sessionView struct {
	User      *hotline.User `json:"user"`
	CSRFToken string        `json:"csrf_token"`
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := decodeJSON(r, &in); err != nil {
		Error(w, r, err)
		return
	}
	username := strings.ToLower(strings.TrimSpace(in.Username))
	fe := hotline.FieldErrors{}
	if username == "" {
		fe.Add("username", "enter your username")
	} else if len(username) > 64 {
		fe.Add("username", "a username has at most 64 characters")
	}
	if in.Password == "" {
		fe.Add("password", "enter your password")
	}
	if err := fe.Err(); err != nil {
		Error(w, r, err)
		return
	}

	// Both limits count every attempt: per address against one machine
	// trying many names, per username against many machines trying one.
	if err := s.limit(r, "login:addr:"+s.clientAddr(r), s.Config.LoginRatePerMinute); err != nil {
		Error(w, r, err)
		return
	}
	if err := s.limit(r, "login:user:"+username, s.Config.LoginRatePerMinute); err != nil {
		Error(w, r, err)
		return
	}

	wrong := hotline.Errorf(hotline.EUNAUTHORIZED, "wrong username or password")
	u, err := s.Users.FindUserByUsername(r.Context(), username)
	switch {
	case hotline.ErrorCode(err) == hotline.ENOTFOUND:
		CheckPassword(dummyHash(), in.Password)
		Error(w, r, wrong)
		return
	case err != nil:
		Error(w, r, err)
		return
	case u.PasswordHash == "" || !CheckPassword(u.PasswordHash, in.Password):
		Error(w, r, wrong)
		return
	}

	// A lingering session of this browser ends: one browser, one session.
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" && len(c.Value) <= 128 {
		if err := s.Users.DeleteSession(r.Context(), c.Value); err != nil {
			Error(w, r, err)
			return
		}
	}
	sess, err := s.newSession(w, r, u)
	if err != nil {
		Error(w, r, err)
		return
	}
	s.Logger.Info("login", "user_id", u.ID, "role", u.Role)
	writeJSON(w, http.StatusOK, sessionView{User: u, CSRFToken: sess.CSRFToken})
}

// handleLogout ends the session. Without one it still succeeds: the
// browser wanted to be signed out, and it is.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	_, sess, err := currentUser(r)
	if err != nil {
		Error(w, r, err)
		return
	}
	if sess != nil {
		if err := s.Users.DeleteSession(r.Context(), sess.Token); err != nil {
			Error(w, r, err)
			return
		}
	}
	http.SetCookie(w, s.sessionCookie(r, "", -1))
	writeJSON(w, http.StatusOK, struct {
		OK bool `json:"ok"`
	}{true})
}

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) {
	u, sess := requireUser(w, r)
	if u == nil {
		return
	}
	writeJSON(w, http.StatusOK, sessionView{User: u, CSRFToken: sess.CSRFToken})
}
