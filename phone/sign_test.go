package phone_test

import (
	"net/http"
	"net/url"
	"testing"
	"unicode/utf8"

	"github.com/twilio/twilio-go/client"

	"github.com/caojiadu/hotline/phone"
)

// Sign agrees with twilio-go's validator, and with Twilio's documented
// example (the signature of its sample request).
func TestSign(t *testing.T) {
	form := url.Values{"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+12349013030"}, "Digits": {"1234"},
		"From": {"+12349013030"}, "To": {"+18005551212"}}
	const docURL = "https://mycompany.com/myapp.php?foo=1&bar=2"
	if got, want := phone.Sign("12345", docURL, form), "0/KCTR6DLpKmkAf8muzZqo1nDgQ="; got != want {
		t.Errorf("Sign of Twilio's example: got %s, want %s", got, want)
	}
	v := client.NewRequestValidator(authToken)
	u := publicURL + phone.PathVoice + "?lang=zh&step=menu"
	if !v.ValidateBody(u, []byte(form.Encode()), phone.Sign(authToken, u, form)) {
		t.Errorf("twilio-go refuses what Sign signed")
	}
}

// Arbitrary form values at any step never make a webhook panic or fail
// with a server error: bad input is a 4xx, everything else TwiML.
func FuzzWebhooks(f *testing.F) {
	f.Add(0, "", "", "", "+8613812345678", "")
	f.Add(1, "menu", "9", "", "13812345678", "")
	f.Add(2, "category", "12#", "三号", "anonymous", "")
	f.Add(3, "committee", "0", "长寿路178号", "+8613812345678", "")
	f.Add(4, "record", "#", "", "+8613812345678", "https://api.twilio.com/x")
	f.Add(5, "", "", "楼道灯坏了", "+8613812345678", "")
	f.Add(6, "", "", "5 很好", "+8613812345678", "")
	f.Add(7, "", "", "", "+8613812345678", "completed")
	f.Add(8, "", "", "", "\x00\xff", "https://api.twilio.com/y")
	st := MustStreet(f)
	paths := []string{phone.PathVoice, phone.PathSMS, phone.PathStatus, phone.PathRecording}
	steps := []string{"", "start", "menu", "category", "committee", "describe", "record", "bogus"}
	f.Fuzz(func(t *testing.T, pick int, stepName, digits, speech, from, extra string) {
		if pick < 0 {
			pick = -pick
		}
		path := paths[pick%len(paths)]
		target := path
		if path == phone.PathVoice {
			s := stepName
			if s == "" {
				s = steps[pick%len(steps)]
			}
			target += "?" + url.Values{"step": {s}, "lang": {[]string{"zh", "en", ""}[pick%3]}}.Encode()
		}
		form := url.Values{
			"AccountSid": {"AC0123456789abcdef0123456789abcdef"},
			"CallSid":    {"CA0000000000000000000000000000000f"}, "MessageSid": {"SM0000000000000000000000000000000f"},
			"From": {from}, "To": {lineNo}, "Digits": {digits}, "SpeechResult": {speech}, "Body": {speech},
			"CallStatus": {extra}, "MessageStatus": {extra}, "RecordingUrl": {extra}, "RecordingStatus": {"completed"},
			"NumMedia": {digits}, "MediaUrl0": {extra},
		}
		if pick%5 == 0 {
			form.Del("MessageStatus")
		}
		w := st.Post(t, target, form)
		if w.Code >= 500 {
			t.Fatalf("%s: %d %s", target, w.Code, w.Body)
		}
		if w.Code == http.StatusOK && !utf8.Valid(w.Body.Bytes()) {
			t.Fatalf("%s: answer is not UTF-8", target)
		}
	})
}
