package phone_test

import (
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/caojiadu/hotline/phone"
)

// FuzzWebhookSignature posts any body under any query to each webhook,
// with any X-Twilio-Signature or with the one Twilio would send. A body
// that is not a form is refused (400) before its signature is looked at;
// a form without the right signature for PublicURL + path + query is
// refused with 403 and nothing else; a correctly signed form, however
// malformed its fields, is answered with TwiML, with nothing (204) or with
// a 4xx that says why, never with a 5xx.
func FuzzWebhookSignature(f *testing.F) {
	call := callForm("CA0123456789abcdef0123456789abcdef", resident, "Digits", "1").Encode()
	sms := smsForm("SM0123456789abcdef0123456789abcdef", resident, "楼道灯坏了").Encode()
	for _, s := range []struct {
		pick         uint8
		query, body  string
		sig          string
		asTwilioSign bool
	}{
		{0, "", call, "", true},
		{0, "step=menu&lang=zh", call, "", true},
		{0, "step=category&lang=en&try=2", call, "", true},
		{0, "step=record&lang=zh", call + "&RecordingUrl=https%3A%2F%2Fapi.twilio.com%2Fr&RecordingDuration=-1", "", true},
		{0, "step=committee&lang=xx&try=99999999999999999999", call + "&SpeechResult=%E9%95%BF%E5%AF%BF%E8%B7%AF", "", true},
		{0, "step=menu&step=record", call, "", true},
		{1, "", sms, "", true},
		{1, "", sms, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", false},
		{1, "", sms, "", false},
		{2, "", "CallSid=CA0123456789abcdef0123456789abcdef&CallStatus=no-answer&CallDuration=x", "", true},
		{2, "", "MessageSid=SM0123456789abcdef0123456789abcdef&MessageStatus=delivered&ErrorCode=30003", "", true},
		{3, "", "CallSid=CA0123456789abcdef0123456789abcdef&RecordingSid=RE1&RecordingUrl=%00&RecordingStatus=completed", "", true},
		{3, "", "CallSid=..%2F..&RecordingStatus=absent", "", true},
		{0, "", "%zz=1", "", true},
		{1, "%zz", "a=1;b=2", "x", false},
		{2, "", "", "", true},
	} {
		f.Add(s.pick, s.query, s.body, s.sig, s.asTwilioSign)
	}
	st := MustStreet(f)
	paths := []string{phone.PathVoice, phone.PathSMS, phone.PathStatus, phone.PathRecording}
	f.Fuzz(func(t *testing.T, pick uint8, query, body, sig string, asTwilioSigns bool) {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		r.URL.Path, r.URL.RawQuery = paths[int(pick)%len(paths)], query
		r.RequestURI = r.URL.RequestURI()
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		form, formErr := url.ParseQuery(body)
		signed := formErr == nil && sig == phone.Sign(authToken, publicURL+r.RequestURI, form)
		if asTwilioSigns && formErr == nil {
			sig, signed = phone.Sign(authToken, publicURL+r.RequestURI, form), true
		}
		if sig != "" {
			r.Header.Set("X-Twilio-Signature", sig)
		}
		w := serve(st, r)
		input := r.RequestURI + " " + body + " signed " + sig
		switch {
		case w.Code >= 500:
			t.Fatalf("%s: status %d %s", input, w.Code, w.Body)
		case formErr != nil:
			if w.Code != http.StatusBadRequest {
				t.Fatalf("%s: not a form, yet status %d", input, w.Code)
			}
		case !signed:
			if w.Code != http.StatusForbidden {
				t.Fatalf("%s: wrongly signed, yet status %d %s", input, w.Code, w.Body)
			}
		case w.Code == http.StatusForbidden:
			t.Fatalf("%s: signed as Twilio signs, yet refused: %s", input, w.Body)
		case w.Code == http.StatusOK:
			var n Node
			if err := xml.Unmarshal(w.Body.Bytes(), &n); err != nil || n.XMLName.Local != "Response" {
				t.Fatalf("%s: 200 that is not TwiML: %q", input, w.Body)
			}
		case w.Code >= 400 && strings.TrimSpace(w.Body.String()) == "":
			t.Fatalf("%s: status %d without a word of why", input, w.Code)
		}
	})
}
