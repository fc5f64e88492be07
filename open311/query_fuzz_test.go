package open311_test

import (
	"encoding/json"
	"encoding/xml"
	"net/http/httptest"
	"testing"
)

// FuzzOpen311Query sends any query to each read of GeoReport v2: dates,
// statuses, ids, service codes, api keys, jurisdictions and locales. The
// answer is never a 5xx; a 4xx is the spec's error list, in the format
// the path asked for.
func FuzzOpen311Query(f *testing.F) {
	paths := []string{"requests.json", "requests.xml", "services.json", "services/home_repair.xml", "discovery.json", "requests/$ID.json"}
	for _, q := range []string{
		"", "start_date=2024-05-01T00:00:00+08:00&end_date=2024-05-30", "start_date=2024-05-01&end_date=2024-01-01",
		"start_date=1999-12-31", "end_date=9999-12-31T23:59:59.999999999Z", "start_date=9999-12-31", "status=open,closed",
		"status=OPEN", "status=pending", "service_request_id=160035,160035,1", "service_code=home_repair&status=closed",
		"api_key=" + apiKey, "api_key=wrong", "jurisdiction_id=" + jurisdiction, "jurisdiction_id=elsewhere", "locale=en-US",
		"locale=zh_CN", "%zz&start_date=%00", "start_date=2024-05-01T00:00:00 08:00",
	} {
		for i := range paths {
			f.Add(uint8(i), q)
		}
	}
	fx := MustFixture(f)
	f.Fuzz(func(t *testing.T, pick uint8, query string) {
		p := paths[int(pick)%len(paths)]
		if p == "requests/$ID.json" {
			p = "requests/" + fx.Repair.ID + ".json"
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.URL.Path, r.URL.RawQuery = "/open311/v2/"+p, query
		r.RequestURI = r.URL.RequestURI()
		w := httptest.NewRecorder()
		fx.Handler.ServeHTTP(w, r)
		switch {
		case w.Code >= 500:
			t.Fatalf("%s: status %d %s", r.RequestURI, w.Code, w.Body)
		case w.Code >= 400 && p[len(p)-1] == 'n':
			AssertErrors(t, w.Code, w.Body.Bytes())
		case w.Code >= 400:
			var e struct {
				Errors []struct {
					Code        int    `xml:"code"`
					Description string `xml:"description"`
				} `xml:"error"`
			}
			if err := xml.Unmarshal(w.Body.Bytes(), &e); err != nil || len(e.Errors) == 0 || e.Errors[0].Description == "" {
				t.Fatalf("%s: status %d with %q, want the XML error list", r.RequestURI, w.Code, w.Body)
			}
		case p[len(p)-1] == 'n' && !json.Valid(w.Body.Bytes()):
			t.Fatalf("%s: not JSON: %s", r.RequestURI, w.Body)
		}
	})
}
