package redisstore

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
)

// parseNeed reads what encoding/json reads, from every ticket JSON the
// store writes.
func TestParseNeedMatchesJSON(t *testing.T) {
	at := time.Date(2026, 3, 10, 9, 30, 15, 123456789, time.FixedZone("CST", 8*3600))
	tickets := []hotline.Ticket{
		{},
		{ID: "160035", Channel: hotline.ChannelVoice, ServiceCode: "elderly_meals", Description: "老人需要送餐，家住三楼",
			Location: hotline.Location{Address: "长寿路 1 号", Lat: 31.2401234567, Long: -121.43, Committee: "c03"},
			Contact:  hotline.Contact{Phone: "+8613800138000", FirstName: "阿婆", Email: "a@b.c", Consent: true},
			Language: "en", Status: hotline.StatusResolved, UnitID: "c03-meals", Tier: hotline.TierDistrict,
			Declined: []string{"c01", "c{02}", `c"03`}, Escalations: 12, OverdueNoted: true, Redo: true,
			CreatedAt: at, UpdatedAt: at, AcceptBy: at, ResolvedAt: at.Add(time.Hour), Satisfaction: 5, Version: 99},
		{Description: `引号"反斜杠\换行` + "\n<b>&amp;</b>\t\u2028", StatusNotes: `{"not":"an object"}`, MergedInto: "170012",
			Contact: hotline.Contact{LastName: `王"}`, Phone: `+86\138`}, Location: hotline.Location{Committee: `c"1`},
			CreatedAt: time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC)},
		{Location: hotline.Location{Lat: 1e-7, Long: 180}, Status: hotline.StatusCancelled, Tier: hotline.TierCommittee},
	}
	for i, tk := range tickets {
		b, err := json.Marshal(&tk)
		if err != nil {
			t.Fatal(err)
		}
		var want, got needDoc
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		if !parseNeed(string(b), &got) {
			t.Fatalf("ticket %d: parseNeed refused %s", i, b)
		}
		if !reflect.DeepEqual(got, want) || !got.CreatedAt.Equal(want.CreatedAt) {
			t.Errorf("ticket %d:\n got %+v\nwant %+v", i, got, want)
		}
	}
	for _, bad := range []string{``, `{`, `{"id":"1"`, `{"id":1}`, `{"tier":"x"}`, `{"redo":yes}`, `{"created_at":"yesterday"}`, `{"id":"1"}x`, `[]`} {
		var d needDoc
		if parseNeed(bad, &d) {
			t.Errorf("parseNeed accepted %q", bad)
		}
	}
}

func FuzzParseNeed(f *testing.F) {
	f.Add("老人需要送餐", "+8613800138000", "c03", 31.24, 3, int64(1773000000123456789), true)
	f.Add(`"\`+"\x00", "", `}{`, -0.0, -1, int64(0), false)
	f.Fuzz(func(t *testing.T, desc, phone, committee string, lat float64, n int, ns int64, flag bool) {
		tk := hotline.Ticket{ID: committee, Description: desc, Contact: hotline.Contact{Phone: phone, FirstName: desc},
			Location: hotline.Location{Lat: lat, Committee: committee, Address: desc}, Escalations: n, Satisfaction: n,
			Tier: hotline.Tier(n), Redo: flag, StatusNotes: desc, Declined: []string{desc, phone},
			CreatedAt: time.Unix(0, ns).UTC(), ResolvedAt: time.Unix(0, ns/3).UTC()}
		b, err := json.Marshal(&tk)
		if err != nil {
			t.Skip()
		}
		var want, got needDoc
		if err := json.Unmarshal(b, &want); err != nil {
			t.Skip() // times outside what RFC 3339 can hold
		}
		if !parseNeed(string(b), &got) {
			t.Fatalf("parseNeed refused %s", b)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s:\n got %+v\nwant %+v", b, got, want)
		}
	})
}

// BenchmarkDecodeNeed is the CPU of one stored ticket turned into a need
// record, by parseNeed and by encoding/json.
func BenchmarkDecodeNeed(b *testing.B) {
	at := time.Date(2026, 3, 10, 9, 30, 15, 123456789, time.UTC)
	tk := hotline.Ticket{ID: "1000035", Channel: hotline.ChannelVoice, ServiceCode: "elderly_meals",
		Description: "独居老人王阿姨腿脚不便，希望社区每天中午送一份午餐到家，家住三楼没有电梯。",
		Location:    hotline.Location{Address: "长寿路 123 弄 4 号 302 室", Lat: 31.2431, Long: 121.43, Committee: "c03"},
		Contact:     hotline.Contact{Phone: "+8613800138000", FirstName: "阿姨", LastName: "王", Consent: true},
		Language:    "zh", CreatedBy: "twilio", ExternalRef: "CA0123456789abcdef0123456789abcdef",
		Status: hotline.StatusClosed, UnitID: "c03-meals", RouteReason: "nearest volunteer group handling elderly_meals",
		StatusNotes: "已安排志愿者每日送餐", Tier: hotline.TierCommittee, AcceptBy: at.Add(time.Hour), ResolveBy: at.Add(48 * time.Hour),
		CreatedAt: at, UpdatedAt: at.Add(30 * time.Hour), AcceptedAt: at.Add(20 * time.Minute),
		ResolvedAt: at.Add(26 * time.Hour), ClosedAt: at.Add(30 * time.Hour), Satisfaction: 5, Version: 6}
	raw, _ := json.Marshal(&tk)
	d := string(raw)
	b.Run("parseNeed", func(b *testing.B) {
		b.SetBytes(int64(len(d)))
		for b.Loop() {
			if _, err := decodeNeed(d, "salt"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.SetBytes(int64(len(d)))
		for b.Loop() {
			var doc needDoc
			if err := json.Unmarshal([]byte(d), &doc); err != nil {
				b.Fatal(err)
			}
			_ = doc.record("salt")
		}
	})
}
