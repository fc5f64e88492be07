package intake_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/intake"
	"github.com/caojiadu/hotline/internal/redistest"
	"github.com/caojiadu/hotline/network"
	"github.com/caojiadu/hotline/redisstore"
)

// fixedNow is the clock of every test service: tickets get known times.
var fixedNow = time.Date(2025, 3, 4, 9, 30, 0, 0, time.UTC)

// MustService returns an intake service over a fresh Redis key space and
// the demo street.
func MustService(tb testing.TB) *intake.Service {
	tb.Helper()
	client, prefix := redistest.New(tb)
	store := redisstore.NewTicketStore(redisstore.NewDB(client, prefix))
	n, c := network.Demo()
	s := intake.New(store, hotline.NewStaticDirectory(n, c))
	s.Now = func() time.Time { return fixedNow }
	return s
}

func ptr(f float64) *float64 { return &f }

// valid is a submission every channel would accept: a web request with a
// point in the Changshou Road committee's area.
func valid() intake.Submission {
	return intake.Submission{
		Channel:     hotline.ChannelWeb,
		ServiceCode: "home_repair",
		Description: "厨房水管漏水，请派人维修",
		Lat:         ptr(31.240438),
		Long:        ptr(121.435664),
		Address:     "长寿路178号",
		Phone:       "13812345678",
		FirstName:   "明",
		LastName:    "王",
		Email:       "wang.ming@example.com",
		Consent:     true,
		Language:    "zh",
		Actor:       "resident",
	}
}

func TestSubmitValidation(t *testing.T) {
	s := MustService(t)
	long := strings.Repeat("长", intake.MaxDescription+1)
	scenarios := []struct {
		Name string
		Edit func(*intake.Submission)
		// WantFields maps each field expected to fail to a piece of its
		// message; nil means the submission is accepted.
		WantFields map[string]string
	}{
		{"valid", func(*intake.Submission) {}, nil},
		{"no contact at all", func(s *intake.Submission) {
			s.Phone, s.FirstName, s.LastName, s.Email = "", "", "", ""
		}, nil},
		{"english", func(s *intake.Submission) { s.Language = "en" }, nil},
		{"language tag", func(s *intake.Submission) { s.Language = "zh-CN" }, nil},
		{"empty language means zh", func(s *intake.Submission) { s.Language = "" }, nil},
		{"description exactly at the limit", func(s *intake.Submission) {
			s.Description = strings.Repeat("长", intake.MaxDescription)
		}, nil},
		{"voice recording without words", func(s *intake.Submission) {
			s.Channel, s.Description, s.MediaURL = hotline.ChannelVoice, "", "https://api.example.com/Recordings/RE123"
		}, nil},
		{"unknown service", func(s *intake.Submission) { s.ServiceCode = "pothole" },
			map[string]string{"service_code": "unknown service"}},
		{"missing service", func(s *intake.Submission) { s.ServiceCode = " " },
			map[string]string{"service_code": "required"}},
		{"missing description", func(s *intake.Submission) { s.Description = " \t\n" },
			map[string]string{"description": "required"}},
		{"control characters only", func(s *intake.Submission) { s.Description = "\x00\x01\u202e" },
			map[string]string{"description": "required"}},
		{"description too long", func(s *intake.Submission) { s.Description = long },
			map[string]string{"description": "at most 4000"}},
		{"lat without long", func(s *intake.Submission) { s.Long = nil },
			map[string]string{"long": "together with lat"}},
		{"long without lat", func(s *intake.Submission) { s.Lat = nil },
			map[string]string{"lat": "together with long"}},
		{"lat out of range", func(s *intake.Submission) { s.Lat = ptr(91) },
			map[string]string{"lat": "between -90 and 90"}},
		{"long out of range", func(s *intake.Submission) { s.Long = ptr(-181) },
			map[string]string{"long": "between -180 and 180"}},
		{"bad phone", func(s *intake.Submission) { s.Phone = "12345" },
			map[string]string{"phone": "use 11 digits like 13812345678"}},
		{"phone with letters", func(s *intake.Submission) { s.Phone = "138CALLME" },
			map[string]string{"phone": "not a valid phone number"}},
		{"bad email", func(s *intake.Submission) { s.Email = "wang at example" },
			map[string]string{"email": "name@example.com"}},
		{"email with display name", func(s *intake.Submission) { s.Email = "Wang <wang@example.com>" },
			map[string]string{"email": "not a valid email"}},
		{"first name too long", func(s *intake.Submission) { s.FirstName = strings.Repeat("明", 65) },
			map[string]string{"first_name": "at most 64"}},
		{"last name too long", func(s *intake.Submission) { s.LastName = strings.Repeat("x", 65) },
			map[string]string{"last_name": "at most 64"}},
		{"address too long", func(s *intake.Submission) { s.Address = strings.Repeat("路", 257) },
			map[string]string{"address_string": "at most 256"}},
		{"unknown language", func(s *intake.Submission) { s.Language = "fr" },
			map[string]string{"language": "zh"}},
		{"unknown channel", func(s *intake.Submission) { s.Channel = "pigeon" },
			map[string]string{"channel": "unknown channel"}},
		{"media url not http", func(s *intake.Submission) { s.MediaURL = "javascript:alert(1)" },
			map[string]string{"media_url": "http"}},
		{"a bad media link does not excuse a missing description", func(s *intake.Submission) {
			s.Description, s.MediaURL = "", "ftp://files.example.com/r.wav"
		}, map[string]string{"description": "required", "media_url": "http"}},
		{"several at once", func(s *intake.Submission) {
			s.ServiceCode, s.Description, s.Phone, s.Email = "nope", "", "1", "@"
		}, map[string]string{"service_code": "", "description": "", "phone": "", "email": ""}},
	}
	for _, sc := range scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			sub := valid()
			sc.Edit(&sub)
			tk, _, err := s.Submit(context.Background(), sub, "")
			if sc.WantFields == nil {
				if err != nil {
					t.Fatalf("Submit: %v", err)
				}
				if tk.ID == "" || tk.Status != hotline.StatusNew {
					t.Fatalf("got id %q status %q; want an id and status new", tk.ID, tk.Status)
				}
				return
			}
			if got := hotline.ErrorCode(err); got != hotline.EINVALID {
				t.Fatalf("got code %q (%v); want %q", got, err, hotline.EINVALID)
			}
			got := hotline.ErrorFields(err)
			if len(got) != len(sc.WantFields) {
				t.Errorf("got fields %v; want exactly %v", got, sc.WantFields)
			}
			for f, want := range sc.WantFields {
				if msg, ok := got[f]; !ok || !strings.Contains(msg, want) {
					t.Errorf("field %s: got %q; want a message containing %q", f, msg, want)
				}
			}
		})
	}
}

func TestSubmitCleansText(t *testing.T) {
	s := MustService(t)
	sub := valid()
	sub.Description = "  楼道灯\x00坏了\u202e\r\n请修理\t谢谢  "
	sub.Address = " 长寿路\n178号   3楼 "
	sub.FirstName = " 明\x07 "
	tk, _, err := s.Submit(context.Background(), sub, "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tk.Description, "楼道灯坏了\n请修理\t谢谢"; got != want {
		t.Errorf("description: got %q; want %q", got, want)
	}
	if got, want := tk.Location.Address, "长寿路 178号 3楼"; got != want {
		t.Errorf("address: got %q; want %q", got, want)
	}
	if got, want := tk.Contact.FirstName, "明"; got != want {
		t.Errorf("first name: got %q; want %q", got, want)
	}
	if got, want := tk.Contact.Phone, "+8613812345678"; got != want {
		t.Errorf("phone: got %q; want %q", got, want)
	}
	if !tk.CreatedAt.Equal(fixedNow) || !tk.UpdatedAt.Equal(fixedNow) {
		t.Errorf("times: got %v, %v; want %v", tk.CreatedAt, tk.UpdatedAt, fixedNow)
	}
	if tk.Channel != hotline.ChannelWeb || tk.Language != "zh" || !tk.Contact.Consent {
		t.Errorf("got channel %q language %q consent %v", tk.Channel, tk.Language, tk.Contact.Consent)
	}
}

func TestNormalizePhone(t *testing.T) {
	scenarios := []struct {
		In, Want string // Want "" means an error
	}{
		{"13812345678", "+8613812345678"},
		{"138 1234 5678", "+8613812345678"},
		{"138-1234-5678", "+8613812345678"},
		{"+86 138-1234-5678", "+8613812345678"},
		{"+8613812345678", "+8613812345678"},
		{"008613812345678", "+8613812345678"},
		{"１３８１２３４５６７８", "+8613812345678"},
		{"＋８６ １３８－１２３４－５６７８", "+8613812345678"},
		{"021-62345678", "+862162345678"},
		{"(021) 6234 5678", "+862162345678"},
		{" 13812345678 ", "+8613812345678"},
		{"+852 9123 4567", "+85291234567"}, // Hong Kong mobile
		{"", ""},
		{"12345", ""},
		{"1381234567", ""},   // ten digits
		{"138123456789", ""}, // twelve
		{"00000000000", ""},
		{"138CALLME", ""},
		{"+86 138 1234 5678 ext. 9", ""},
		{strings.Repeat("1", 200), ""},
		{"\xff\xfe", ""},
	}
	for _, sc := range scenarios {
		got, err := intake.NormalizePhone(sc.In)
		if sc.Want == "" {
			if err == nil {
				t.Errorf("NormalizePhone(%q) = %q; want an error", sc.In, got)
			} else if hotline.ErrorCode(err) != hotline.EINVALID || !strings.Contains(hotline.ErrorMessage(err), "13812345678") {
				t.Errorf("NormalizePhone(%q): got %v; want EINVALID that shows an example number", sc.In, err)
			}
			continue
		}
		if err != nil || got != sc.Want {
			t.Errorf("NormalizePhone(%q) = %q, %v; want %q", sc.In, got, err, sc.Want)
		}
	}
}

func TestSubmitPlaces(t *testing.T) {
	s := MustService(t)
	n := s.Directory.Network()
	center, ok := n.ServiceCenter()
	if !ok {
		t.Fatal("demo network has no service center")
	}
	scenarios := []struct {
		Name          string
		Lat, Long     *float64
		Address       string
		WantCommittee string
		WantUnit      string
		WantReason    string
	}{
		{"point in Changshou Road", ptr(31.240438), ptr(121.435664), "", "c07", "c07", "by map point"},
		{"point wins over address", ptr(31.240438), ptr(121.435664), "宜昌路231号", "c07", "c07", "by map point"},
		{"address by house number", nil, nil, "长寿路178号", "c07", "c07", "by address"},
		{"address with spaces and full-width digits", nil, nil, "宜昌路 ２３１ 号", "c02", "c02", "by address"},
		{"odd side of the road", nil, nil, "长寿路 101 号", "c03", "c03", "by address"},
		{"point outside the street falls back to the address", ptr(31.1), ptr(121.3), "长寿路178号", "c07", "c07", "by address"},
		{"nowhere known", nil, nil, "外滩1号", "", center.ID, "street intake queue"},
		{"no location at all", nil, nil, "", "", center.ID, "street intake queue"},
		{"0,0 counts as no point", ptr(0), ptr(0), "", "", center.ID, "street intake queue"},
	}
	for _, sc := range scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			sub := valid()
			sub.Lat, sub.Long, sub.Address = sc.Lat, sc.Long, sc.Address
			tk, _, err := s.Submit(context.Background(), sub, "")
			if err != nil {
				t.Fatal(err)
			}
			if tk.Location.Committee != sc.WantCommittee || tk.UnitID != sc.WantUnit {
				t.Errorf("got committee %q unit %q; want %q, %q", tk.Location.Committee, tk.UnitID, sc.WantCommittee, sc.WantUnit)
			}
			if !strings.Contains(tk.RouteReason, sc.WantReason) {
				t.Errorf("route reason %q; want it to mention %q", tk.RouteReason, sc.WantReason)
			}
			if sc.WantCommittee != "" {
				u, _ := n.Unit(sc.WantCommittee)
				if !strings.Contains(tk.RouteReason, u.NameZH) || !strings.Contains(tk.RouteReason, u.NameEN) {
					t.Errorf("route reason %q; want both names of %s", tk.RouteReason, u.ID)
				}
			}
		})
	}
}

func TestSubmitIdempotent(t *testing.T) {
	s := MustService(t)
	var calls atomic.Int32
	s.OnCreated = func(tk *hotline.Ticket) {
		if tk.ID == "" {
			t.Error("OnCreated got a ticket without id")
		}
		calls.Add(1)
	}
	ctx := context.Background()
	first, created, err := s.Submit(ctx, valid(), "key-1")
	if err != nil || !created {
		t.Fatalf("first Submit: created=%v err=%v", created, err)
	}
	again := valid()
	again.Phone = "+86 138 1234 5678" // the same number typed differently
	second, created, err := s.Submit(ctx, again, "key-1")
	if err != nil || created {
		t.Fatalf("retry: created=%v err=%v; want the first ticket", created, err)
	}
	if second.ID != first.ID || second.Description != first.Description {
		t.Fatalf("retry got ticket %q; want %q", second.ID, first.ID)
	}
	if got := calls.Load(); got != 1 {
		t.Errorf("OnCreated called %d times; want 1", got)
	}

	t.Run("another phone with the same key is refused", func(t *testing.T) {
		other := valid()
		other.Phone = "13900001111"
		_, _, err := s.Submit(ctx, other, "key-1")
		if got := hotline.ErrorCode(err); got != hotline.ECONFLICT {
			t.Fatalf("got %v; want %s", err, hotline.ECONFLICT)
		}
	})
	t.Run("keys are scoped by channel", func(t *testing.T) {
		other := valid()
		other.Channel = hotline.ChannelOpen311
		tk, created, err := s.Submit(ctx, other, "key-1")
		if err != nil || !created || tk.ID == first.ID {
			t.Fatalf("got %v created=%v err=%v; want a new ticket", tk, created, err)
		}
	})
	t.Run("no key, no deduplication", func(t *testing.T) {
		a, _, err1 := s.Submit(ctx, valid(), "")
		b, _, err2 := s.Submit(ctx, valid(), "")
		if err1 != nil || err2 != nil || a.ID == b.ID {
			t.Fatalf("got %v/%v, %v/%v; want two tickets", a, err1, b, err2)
		}
	})
	for _, key := range []string{strings.Repeat("k", 129), "clé", "a\nb", "tab\tkey"} {
		if _, _, err := s.Submit(ctx, valid(), key); hotline.ErrorCode(err) != hotline.EINVALID {
			t.Errorf("key %q: got %v; want %s", key, err, hotline.EINVALID)
		}
	}
	if _, _, err := s.Submit(ctx, valid(), strings.Repeat("k", 128)); err != nil {
		t.Errorf("128-character key refused: %v", err)
	}
}

func FuzzSubmit(f *testing.F) {
	f.Add("home_repair", "水管漏水", "13812345678", "长寿路178号", "wang@example.com", "zh", 31.24, 121.43, true, "k1")
	f.Add("", "", "", "", "", "", 0.0, 0.0, false, "")
	f.Add("counselling", "\x00\u202e", "００８６１３８", "宜昌路 ２３１ 号", "@@", "en", 91.0, -181.0, true, "\x7f")
	f.Add("legal", strings.Repeat("字", 4001), "+86 21 6234 5678", "路", "a@b.c", "fr", -0.0, 1e308, false, strings.Repeat("x", 129))
	s := MustService(f)
	f.Fuzz(func(t *testing.T, code, desc, phone, addr, email, lang string, lat, long float64, point bool, key string) {
		sub := intake.Submission{
			Channel: hotline.ChannelWeb, ServiceCode: code, Description: desc, Phone: phone,
			Address: addr, Email: email, Language: lang, FirstName: desc, LastName: addr,
		}
		if point {
			sub.Lat, sub.Long = &lat, &long
		}
		tk, _, err := s.Submit(context.Background(), sub, key)
		if err != nil {
			// A fuzzed key may repeat with another phone: that conflict
			// is the one non-EINVALID answer that is still correct.
			if c := hotline.ErrorCode(err); c != hotline.EINVALID && c != hotline.ECONFLICT {
				t.Fatalf("got %v; want only EINVALID for bad input", err)
			}
			return
		}
		if tk.ID == "" || tk.Description == "" || tk.ServiceCode == "" {
			t.Fatalf("accepted an incomplete ticket: %+v", tk)
		}
	})
}
