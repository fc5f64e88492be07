package redisstore_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/redisstore"
)

// MustCreateUser stores a user and fails the test on error.
func MustCreateUser(tb testing.TB, s *redisstore.UserStore, username string, role hotline.Role) *hotline.User {
	tb.Helper()
	u := &hotline.User{Username: username, Name: "测试", Role: role, UnitID: "c01", PasswordHash: "$2a$10$hash-of-" + username}
	if err := s.CreateUser(context.Background(), u); err != nil {
		tb.Fatalf("create user %s: %v", username, err)
	}
	return u
}

func TestCreateAndFindUser(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.NewUserStore(b.db)
		ctx := context.Background()
		u := MustCreateUser(t, s, "wang.li", hotline.RoleDispatcher)
		if u.ID == "" || u.CreatedAt.IsZero() {
			t.Fatalf("created user has id %q, created_at %v", u.ID, u.CreatedAt)
		}

		byID, err := s.FindUserByID(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		byName, err := s.FindUserByUsername(ctx, "Wang.Li")
		if err != nil {
			t.Fatal(err)
		}
		for _, got := range []*hotline.User{byID, byName} {
			if g, w := asJSON(t, got), asJSON(t, u); g != w {
				t.Errorf("found user differs:\n got %s\nwant %s", g, w)
			}
			if got.PasswordHash != u.PasswordHash {
				t.Errorf("password hash = %q, want %q", got.PasswordHash, u.PasswordHash)
			}
		}

		_, err = s.FindUserByID(ctx, "0123456789abcdef")
		AssertCode(t, err, hotline.ENOTFOUND)
		_, err = s.FindUserByUsername(ctx, "nobody")
		AssertCode(t, err, hotline.ENOTFOUND)
	})
}

func TestCreateUserDuplicateUsername(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.NewUserStore(b.db)
		first := MustCreateUser(t, s, "zhang", hotline.RoleAdmin)
		err := s.CreateUser(context.Background(), &hotline.User{Username: "zhang", Role: hotline.RoleVolunteer})
		AssertCode(t, err, hotline.ECONFLICT)
		if got, want := hotline.ErrorMessage(err), "username already taken"; got != want {
			t.Errorf("message = %q, want %q", got, want)
		}
		got, err := s.FindUserByUsername(context.Background(), "zhang")
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != first.ID || got.Role != hotline.RoleAdmin {
			t.Errorf("the refused user replaced the first: %+v", got)
		}
	})
}

func TestCreateUserValidates(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.NewUserStore(b.db)
		scenarios := []struct {
			name      string
			user      hotline.User
			wantField string
		}{
			{"too short", hotline.User{Username: "a", Role: hotline.RoleAdmin}, "username"},
			{"capitals", hotline.User{Username: "Wang", Role: hotline.RoleAdmin}, "username"},
			{"space", hotline.User{Username: "wang li", Role: hotline.RoleAdmin}, "username"},
			{"colon would split keys", hotline.User{Username: "wang:li", Role: hotline.RoleAdmin}, "username"},
			{"chinese", hotline.User{Username: "王丽", Role: hotline.RoleAdmin}, "username"},
			{"too long", hotline.User{Username: strings.Repeat("a", 65), Role: hotline.RoleAdmin}, "username"},
			{"unknown role", hotline.User{Username: "wang", Role: "boss"}, "role"},
		}
		for _, sc := range scenarios {
			t.Run(sc.name, func(t *testing.T) {
				err := s.CreateUser(context.Background(), &sc.user)
				AssertCode(t, err, hotline.EINVALID)
				if _, ok := hotline.ErrorFields(err)[sc.wantField]; !ok {
					t.Errorf("fields %v: want a message for %s", hotline.ErrorFields(err), sc.wantField)
				}
			})
		}
		for _, name := range []string{"ab", "li_2", "zhao-min.1"} {
			MustCreateUser(t, s, name, hotline.RoleVolunteer)
		}
	})
}

func TestListUsersOrderedByUsername(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.NewUserStore(b.db)
		ctx := context.Background()
		got, err := s.ListUsers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 0 {
			t.Fatalf("empty store lists %d users", len(got))
		}
		for _, name := range []string{"zhou", "an", "li.wei", "li", "chen"} {
			MustCreateUser(t, s, name, hotline.RoleCommittee)
		}
		got, err = s.ListUsers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, u := range got {
			names = append(names, u.Username)
		}
		if want := []string{"an", "chen", "li", "li.wei", "zhou"}; !slices.Equal(names, want) {
			t.Errorf("usernames = %v, want %v", names, want)
		}
	})
}

func TestSessions(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.NewUserStore(b.db)
		ctx := context.Background()
		now := time.Now().UTC()
		sess := &hotline.Session{Token: "cookie-value-1", UserID: "u1", CSRFToken: "csrf-1",
			CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
		got, err := s.FindSession(ctx, "cookie-value-1")
		if err != nil {
			t.Fatal(err)
		}
		if got.Token != sess.Token || got.UserID != "u1" || got.CSRFToken != "csrf-1" || !got.ExpiresAt.Equal(sess.ExpiresAt) {
			t.Errorf("found session %+v, want %+v", got, sess)
		}

		for _, k := range MustKeys(t, b.db.Client(), b.db.Prefix()+":session:*") {
			if k == b.db.Prefix()+":session:cookie-value-1" {
				t.Errorf("the raw token is a key name: %s", k)
			}
		}

		_, err = s.FindSession(ctx, "cookie-value-2")
		AssertCode(t, err, hotline.ENOTFOUND)

		if err := s.DeleteSession(ctx, "cookie-value-1"); err != nil {
			t.Fatal(err)
		}
		_, err = s.FindSession(ctx, "cookie-value-1")
		AssertCode(t, err, hotline.ENOTFOUND)
		if err := s.DeleteSession(ctx, "cookie-value-1"); err != nil {
			t.Errorf("deleting a missing session: %v", err)
		}
	})
}

func TestSessionExpires(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.NewUserStore(b.db)
		ctx := context.Background()
		now := time.Now().UTC()
		sess := &hotline.Session{Token: "short", UserID: "u1", CreatedAt: now, ExpiresAt: now.Add(150 * time.Millisecond)}
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
		if _, err := s.FindSession(ctx, "short"); err != nil {
			t.Fatalf("fresh session: %v", err)
		}
		b.wait(300 * time.Millisecond)
		_, err := s.FindSession(ctx, "short")
		AssertCode(t, err, hotline.ENOTFOUND)
		if keys := MustKeys(t, b.db.Client(), b.db.Prefix()+":session:*"); len(keys) != 0 {
			t.Errorf("expired session still stored: %v", keys)
		}

		err = s.CreateSession(ctx, &hotline.Session{Token: "late", ExpiresAt: now.Add(-time.Second)})
		AssertCode(t, err, hotline.EINVALID)
	})
}
