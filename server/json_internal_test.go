package server

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caojiadu/hotline"
)

// BenchmarkDecodeTicketBody is the web form's body as handleTicketCreate
// reads it: the object, then its fields one by one.
func BenchmarkDecodeTicketBody(b *testing.B) {
	const body = `{"address_string":"长寿路 17 号","consent":true,"description":"楼道灯坏了，晚上看不见","phone":"13800000017","service_code":"facilities"}`
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("POST", "/api/v1/tickets", strings.NewReader(body))
		m, err := readJSONObject(r)
		if err != nil {
			b.Fatal(err)
		}
		fe := hotline.FieldErrors{}
		for _, f := range []string{"service_code", "description", "address_string", "phone", "first_name", "last_name", "email", "language"} {
			stringField(m, f, fe)
		}
		floatField(m, "lat", fe)
		floatField(m, "long", fe)
		boolField(m, "consent", fe)
		if len(fe) > 0 {
			b.Fatal(fe)
		}
	}
}

// plainString must give what json.Unmarshal gives, or step aside.
func TestPlainStringMatchesUnmarshal(t *testing.T) {
	for _, raw := range []string{`""`, `"abc"`, `"长寿路 17 号"`, `"a\"b"`, `"a\\nb"`, `"\u00e9"`, "\"a\xffb\"", `"<&>"`, `"\u2028"`, `null`, `12`, `"x`} {
		var want string
		wantErr := json.Unmarshal([]byte(raw), &want)
		got, ok := plainString(json.RawMessage(raw))
		if ok && (wantErr != nil || got != want) {
			t.Errorf("%s: plainString gives %q, json.Unmarshal %q (%v)", raw, got, want, wantErr)
		}
	}
}
