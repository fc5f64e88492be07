package retention_test

import (
	"slices"
	"testing"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/retention"
)

// What EraseText takes out of the texts tickets hold, and what it leaves:
// the need's words and the service's own times. A second pass changes
// nothing.
func TestEraseText(t *testing.T) {
	known := retention.Known(hotline.Contact{Phone: "+8613800138000", LastName: "张", FirstName: "建国", Email: "jg@example.cn"})
	for _, tc := range []struct {
		name, in, want string
	}{
		{"need only", "楼道灯坏了，晚上看不见", "楼道灯坏了，晚上看不见"},
		{"phone and door", "住长寿路100号3室，电话 138 0013 8000", "住长寿路…号…室，电话 ***"},
		{"the resident's own name", "我叫张建国，帮邻居王阿姨问送餐", "我叫某，帮邻居某阿姨问送餐"},
		{"a given name alone", "建国说灯坏了", "某说灯坏了"},
		{"a one-character surname alone stays", "家里一张床坏了", "家里一张床坏了"},
		{"the phone without +86", "回电13800138000", "回电***"},
		{"e-mail", "请发邮件到 jg@example.cn 或 other.person@mail.example.com", "请发邮件到 *** 或 ***"},
		{"recording link", "来电录音 / call recording: https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1",
			"来电录音 / call recording: [链接已删除 / link removed]"},
		{"link inside Chinese text", "照片见https://img.example.cn/a/b.jpg。谢谢", "照片见[链接已删除 / link removed]。谢谢"},
		{"identity card", "身份证 31010619500101123X", "身份证 ***X"},
		{"the service's deadline", "超过办结时限 / past the time limit to resolve (2026-03-05 15:04)",
			"超过办结时限 / past the time limit to resolve (2026-03-05 15:04)"},
		{"a date", "约好 2026-03-05 上门", "约好 2026-03-05 上门"},
		{"english", "Mr Smith at Room 302, 275 Changshou Road, call +86 138 0013 8000", "Mr … at Room …, … Changshou Road, call ***"},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := retention.EraseText(tc.in, known...)
			if got != tc.want {
				t.Errorf("EraseText(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
			if again := retention.EraseText(got, known...); again != got {
				t.Errorf("a second pass changed %q into %q", got, again)
			}
		})
	}
}

// Known lists the names whole before their parts, and both forms of the
// phone; short parts that would match ordinary words are left out.
func TestKnownDetails(t *testing.T) {
	got := retention.Known(hotline.Contact{Phone: "+8613800138000", LastName: "张", FirstName: "建国", Email: "jg@example.cn"})
	want := []string{"+8613800138000", "jg@example.cn", "13800138000", "张 建国", "建国 张", "张建国", "建国张", "建国"}
	if !slices.Equal(got, want) {
		t.Errorf("Known = %q, want %q", got, want)
	}
	if got := retention.Known(hotline.Contact{Consent: true}); len(got) != 0 {
		t.Errorf("Known of an empty contact = %q", got)
	}
}

// Erasing a ticket twice changes it once.
func TestEraseIsIdempotent(t *testing.T) {
	tk := &hotline.Ticket{Description: "王阿姨 13800138000", StatusNotes: "送到 5 号楼", RouteReason: "长寿路居委会辖区",
		Location: hotline.Location{Address: "长寿路 5 号", Lat: 31.2391519, Long: 121.4349049, Committee: "c07"},
		Contact:  hotline.Contact{Phone: "+8613800138000", Consent: true}, MediaURL: "https://x/y", ExternalRef: "SM1"}
	if !retention.Erase(tk) {
		t.Fatal("first erasure changed nothing")
	}
	once := *tk
	if retention.Erase(tk) {
		t.Errorf("second erasure changed %+v into %+v", once, *tk)
	}
	if tk.Location.Lat != 31.239 || tk.Location.Long != 121.435 || tk.Location.Committee != "c07" || !tk.Contact.Consent {
		t.Errorf("erased location %+v, contact %+v", tk.Location, tk.Contact)
	}
	noPoint := &hotline.Ticket{Location: hotline.Location{Committee: "c01"}}
	if retention.Erase(noPoint); noPoint.Location.HasPoint() {
		t.Errorf("erasure gave a ticket without a point one: %+v", noPoint.Location)
	}
}
