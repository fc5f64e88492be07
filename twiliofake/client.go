package twiliofake

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
)

// Transport returns a RoundTripper that sends every request for a Twilio
// API host (api.twilio.com, and the edge/region forms such as
// api.sydney.au1.twilio.com that twilio-go builds from TWILIO_EDGE and
// TWILIO_REGION) to base instead, keeping path and query (base's own path,
// if any, is put in front). Other requests go out unchanged through
// http.DefaultTransport.
func Transport(base *url.URL) http.RoundTripper {
	return &transport{base: base, next: http.DefaultTransport}
}

type transport struct {
	base *url.URL
	next http.RoundTripper
}

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	host := r.URL.Hostname()
	if host != "twilio.com" && !strings.HasSuffix(host, ".twilio.com") {
		return t.next.RoundTrip(r)
	}
	r = r.Clone(r.Context())
	r.URL.Scheme = t.base.Scheme
	r.URL.Host = t.base.Host
	r.URL.Path = strings.TrimSuffix(t.base.Path, "/") + r.URL.Path
	if r.URL.RawPath != "" {
		r.URL.RawPath = strings.TrimSuffix(t.base.EscapedPath(), "/") + r.URL.RawPath
	}
	r.Host = t.base.Host
	return t.next.RoundTrip(r)
}

// NewRestClient returns twilio-go's REST client for accountSID/authToken
// with every API request sent to base (the URL a Server is served at,
// e.g. an httptest.Server's URL or the simulator's own address plus a
// path prefix it mounts the Server under). Requests time out after 10 s
// and redirects are not followed, as with twilio-go's default client.
func NewRestClient(base *url.URL, accountSID, authToken string) *twilio.RestClient {
	c := &client.Client{
		Credentials: client.NewCredentials(accountSID, authToken),
		HTTPClient: &http.Client{
			Transport:     Transport(base),
			Timeout:       10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	// With a Client given, NewRestClientWithParams ignores Username and
	// Password and takes the account from the client: set it here.
	c.SetAccountSid(accountSID)
	return twilio.NewRestClientWithParams(twilio.ClientParams{
		Username: accountSID,
		Password: authToken,
		Client:   c,
	})
}
