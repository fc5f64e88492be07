package open311_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/intake"
	"github.com/caojiadu/hotline/internal/redistest"
	"github.com/caojiadu/hotline/network"
	"github.com/caojiadu/hotline/open311"
	"github.com/caojiadu/hotline/redisstore"
)

const (
	apiKey       = "test-key-0123456789"
	jurisdiction = "caojiadu.jingan.shanghai.cn"
	// residentPhone is on every fixture ticket; no response may show it.
	residentPhone = "13671234567"
	residentEmail = "wang.ming@example.com"
	residentName  = "王小明"
)

// phoneForms are the ways the fixture phone could leak into a body.
var phoneForms = []string{residentPhone, "+86" + residentPhone, "136 7123 4567", "136-7123-4567", residentEmail, residentName, "小明"}

// Fixture is a handler over a fresh Redis key space and the demo street,
// holding a few known tickets.
type Fixture struct {
	Handler *open311.Handler
	Store   hotline.TicketStore
	Repair  *hotline.Ticket // home_repair, public, with a point
	Counsel *hotline.Ticket // counselling, sensitive, with a point and an address
	Closed  *hotline.Ticket // sanitation, closed
	Old     *hotline.Ticket // filed 120 days ago, outside the default window
}

func MustFixture(tb testing.TB) *Fixture {
	tb.Helper()
	client, prefix := redistest.New(tb)
	store := redisstore.NewTicketStore(redisstore.NewDB(client, prefix))
	n, c := network.Demo()
	dir := hotline.NewStaticDirectory(n, c)
	in := intake.New(store, dir)
	fx := &Fixture{Store: store, Handler: &open311.Handler{
		Tickets: store, Directory: dir, Intake: in, APIKeys: []string{"other-key", apiKey},
		Jurisdiction: jurisdiction, BaseURL: "http://localhost:8080",
	}}
	ctx := context.Background()
	submit := func(code, desc string, lat, long float64, addr string) *hotline.Ticket {
		tb.Helper()
		t, _, err := in.Submit(ctx, intake.Submission{
			Channel: hotline.ChannelWeb, ServiceCode: code, Description: desc,
			Lat: &lat, Long: &long, Address: addr, Phone: residentPhone,
			FirstName: "小明", LastName: "王", Email: residentEmail, Consent: true,
		}, "")
		if err != nil {
			tb.Fatalf("fixture %s: %v", code, err)
		}
		return t
	}
	fx.Repair = submit("home_repair", "厨房水管漏水，请派人维修", 31.240438, 121.435664, "长寿路178号")
	fx.Counsel = submit("counselling", "最近情绪低落，晚上睡不着，想找人聊聊", 31.2436, 121.4268, "叶家宅路36号5楼")
	fx.Closed = submit("sanitation", "楼下垃圾堆了三天", 31.238646, 121.438991, "")
	closed, err := store.UpdateTicket(ctx, fx.Closed.ID, func(t *hotline.Ticket) (*hotline.Event, error) {
		t.Status, t.StatusNotes = hotline.StatusClosed, "已清运"
		return &hotline.Event{Type: hotline.EventTicketClosed, Actor: "test", Status: t.Status}, nil
	})
	if err != nil {
		tb.Fatalf("closing fixture: %v", err)
	}
	fx.Closed = closed
	in.Now = func() time.Time { return time.Now().Add(-120 * 24 * time.Hour) }
	fx.Old = submit("home_repair", "旧的报修", 31.240438, 121.435664, "")
	in.Now = time.Now
	return fx
}

// Do serves one request and returns the recorded response.
func (fx *Fixture) Do(method, target string, body io.Reader, header http.Header) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, body)
	for k, vs := range header {
		r.Header[k] = vs
	}
	w := httptest.NewRecorder()
	fx.Handler.ServeHTTP(w, r)
	return w
}

var (
	schemasOnce sync.Once
	schemas     map[string]*jsonschema.Schema
	schemasErr  error
)

// MustSchema compiles the GeoReport v2 schemas in testdata/schema once,
// registered by their file names so that "$ref": "request.json" resolves,
// with format assertions on (date-time, uri).
func MustSchema(tb testing.TB, name string) *jsonschema.Schema {
	tb.Helper()
	schemasOnce.Do(func() {
		dir, err := filepath.Abs(filepath.Join("testdata", "schema"))
		if err != nil {
			schemasErr = err
			return
		}
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		files := []string{"request.json", "requests.json", "service.json", "services.json", "service-definition.json"}
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				schemasErr = err
				return
			}
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if err != nil {
				schemasErr = fmt.Errorf("%s: %w", f, err)
				return
			}
			if err := c.AddResource(filepath.ToSlash(filepath.Join(dir, f)), doc); err != nil {
				schemasErr = err
				return
			}
		}
		schemas = map[string]*jsonschema.Schema{}
		for _, f := range files {
			s, err := c.Compile(filepath.ToSlash(filepath.Join(dir, f)))
			if err != nil {
				schemasErr = fmt.Errorf("%s: %w", f, err)
				return
			}
			schemas[f] = s
		}
	})
	if schemasErr != nil {
		tb.Fatalf("schemas: %v", schemasErr)
	}
	s, ok := schemas[name]
	if !ok {
		tb.Fatalf("no schema %s", name)
	}
	return s
}

// AssertSchema validates a JSON body against one of the spec's schemas.
func AssertSchema(tb testing.TB, name string, body []byte) {
	tb.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		tb.Fatalf("body is not JSON: %v\n%s", err, body)
	}
	if err := MustSchema(tb, name).Validate(doc); err != nil {
		tb.Fatalf("body does not validate against %s: %v\n%s", name, err, body)
	}
}

// AssertErrors checks the spec's error shape by hand (no schema covers it):
// a non-empty array of {code, description} whose code is the HTTP status.
func AssertErrors(tb testing.TB, status int, body []byte) {
	tb.Helper()
	var list []map[string]any
	if err := json.Unmarshal(body, &list); err != nil || len(list) == 0 {
		tb.Fatalf("error body is not a non-empty array: %v\n%s", err, body)
	}
	for _, e := range list {
		code, _ := e["code"].(float64)
		desc, _ := e["description"].(string)
		if int(code) != status || desc == "" || len(e) != 2 {
			tb.Fatalf("error element %v; want {code: %d, description: text}", e, status)
		}
	}
}

// AssertCreated checks a POST answer by hand: one element carrying
// service_request_id, token (the same id) and service_notice.
func AssertCreated(tb testing.TB, body []byte) string {
	tb.Helper()
	var list []map[string]any
	if err := json.Unmarshal(body, &list); err != nil || len(list) != 1 {
		tb.Fatalf("POST answer is not a one-element array: %v\n%s", err, body)
	}
	id, _ := list[0]["service_request_id"].(string)
	tok, _ := list[0]["token"].(string)
	notice, _ := list[0]["service_notice"].(string)
	if !hotline.ValidTicketID(id) || tok != id || notice == "" {
		tb.Fatalf("POST answer %v; want a ticket id, the same token and a notice", list[0])
	}
	if _, ok := list[0]["account_id"]; !ok {
		tb.Fatalf("POST answer %v has no account_id", list[0])
	}
	return id
}

// AssertTokens checks a tokens answer by hand.
func AssertTokens(tb testing.TB, body []byte, want string) {
	tb.Helper()
	var list []map[string]string
	if err := json.Unmarshal(body, &list); err != nil || len(list) != 1 {
		tb.Fatalf("tokens answer is not a one-element array: %v\n%s", err, body)
	}
	if list[0]["service_request_id"] != want || list[0]["token"] != want {
		tb.Fatalf("tokens answer %v; want id and token %s", list[0], want)
	}
}

// AssertDiscovery checks the discovery document by hand.
func AssertDiscovery(tb testing.TB, body []byte) {
	tb.Helper()
	var d struct {
		Changeset string `json:"changeset"`
		Endpoints []struct {
			Specification, URL, Type string
			Formats                  []string
		} `json:"endpoints"`
	}
	if err := json.Unmarshal(body, &d); err != nil || d.Changeset == "" || len(d.Endpoints) != 1 {
		tb.Fatalf("discovery: %v\n%s", err, body)
	}
	e := d.Endpoints[0]
	if e.URL != "http://localhost:8080/open311/v2" || e.Type != "production" || len(e.Formats) != 2 {
		tb.Fatalf("discovery endpoint %+v", e)
	}
}

// AssertXML parses body with encoding/xml and checks its root element.
func AssertXML(tb testing.TB, root string, body []byte) {
	tb.Helper()
	var doc struct {
		XMLName xml.Name
		Inner   []byte `xml:",innerxml"`
	}
	if err := xml.Unmarshal(body, &doc); err != nil {
		tb.Fatalf("body is not XML: %v\n%s", err, body)
	}
	if doc.XMLName.Local != root {
		tb.Fatalf("XML root <%s>; want <%s>\n%s", doc.XMLName.Local, root, body)
	}
}

func form(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v.Encode()
}

var (
	formHeader = http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	jsonHeader = http.Header{"Content-Type": {"application/json"}}
)

// Scenario is one request and what must come back.
type Scenario struct {
	Name            string
	Method          string
	URL             string
	Body            string
	Header          http.Header
	ExpectedStatus  int
	ExpectedContent []string
	// NotExpectedContent must not appear in the body.
	NotExpectedContent []string
	// Check validates the body: a schema file name, or one of "errors",
	// "created", "tokens:<id>", "discovery", "xml:<root>".
	Check string
}

func TestScenarios(t *testing.T) {
	fx := MustFixture(t)
	rq := func(id string) string { return "/open311/v2/requests/" + id + ".json" }
	old := fx.Old.CreatedAt
	day := func(t time.Time) string { return t.Format("2006-01-02") }
	valid := []string{"api_key", apiKey, "service_code", "home_repair", "lat", "31.240438", "long", "121.435664",
		"description", "楼道灯坏了", "phone", residentPhone, "first_name", "小明", "last_name", "王", "email", residentEmail}

	scenarios := []Scenario{
		// discovery
		{Name: "discovery json", Method: "GET", URL: "/open311/v2/discovery.json", ExpectedStatus: 200,
			ExpectedContent: []string{"GeoReport_v2"}, Check: "discovery"},
		{Name: "discovery xml", Method: "GET", URL: "/open311/v2/discovery.xml", ExpectedStatus: 200,
			ExpectedContent: []string{"<endpoints><endpoint>", "<format>application/json</format>"}, Check: "xml:discovery"},

		// services
		{Name: "services in Chinese", Method: "GET", URL: "/open311/v2/services.json", ExpectedStatus: 200,
			ExpectedContent: []string{`"service_code":"home_repair"`, `"service_name":"居家维修"`, `"type":"realtime"`, `"metadata":false`, `"group":"home"`, "漏水,"},
			Check:           "services.json"},
		{Name: "services in English by locale", Method: "GET", URL: "/open311/v2/services.json?locale=en", ExpectedStatus: 200,
			ExpectedContent: []string{`"service_name":"Home repair"`}, Check: "services.json"},
		{Name: "services in English by Accept-Language", Method: "GET", URL: "/open311/v2/services.json",
			Header: http.Header{"Accept-Language": {"en-GB,en;q=0.9,zh;q=0.5"}}, ExpectedStatus: 200,
			ExpectedContent: []string{`"service_name":"Home repair"`}, Check: "services.json"},
		{Name: "services prefer Chinese by Accept-Language", Method: "GET", URL: "/open311/v2/services.json",
			Header: http.Header{"Accept-Language": {"en;q=0.3,zh-CN"}}, ExpectedStatus: 200,
			ExpectedContent: []string{`"service_name":"居家维修"`}, Check: "services.json"},
		{Name: "services xml", Method: "GET", URL: "/open311/v2/services.xml", ExpectedStatus: 200,
			ExpectedContent: []string{"<services><service><service_code>", "<type>realtime</type>"}, Check: "xml:services"},
		{Name: "services with our jurisdiction", Method: "GET", URL: "/open311/v2/services.json?jurisdiction_id=" + jurisdiction,
			ExpectedStatus: 200, Check: "services.json"},
		{Name: "services with another jurisdiction", Method: "GET", URL: "/open311/v2/services.json?jurisdiction_id=sf.gov",
			ExpectedStatus: 404, ExpectedContent: []string{"jurisdiction_id"}, Check: "errors"},
		{Name: "service definition", Method: "GET", URL: "/open311/v2/services/home_repair.json", ExpectedStatus: 200,
			ExpectedContent: []string{`"attributes":[]`}, Check: "service-definition.json"},
		{Name: "service definition xml", Method: "GET", URL: "/open311/v2/services/home_repair.xml", ExpectedStatus: 200,
			ExpectedContent: []string{"<service_code>home_repair</service_code>"}, Check: "xml:service_definition"},
		{Name: "unknown service", Method: "GET", URL: "/open311/v2/services/pothole.json", ExpectedStatus: 404,
			ExpectedContent: []string{"pothole"}, Check: "errors"},
		{Name: "unknown service xml", Method: "GET", URL: "/open311/v2/services/pothole.xml", ExpectedStatus: 404,
			ExpectedContent: []string{"<errors><error><code>404</code>"}, Check: "xml:errors"},

		// requests: lists
		{Name: "requests default window", Method: "GET", URL: "/open311/v2/requests.json", ExpectedStatus: 200,
			ExpectedContent:    []string{fx.Repair.ID, fx.Counsel.ID, fx.Closed.ID, `"agency_responsible":"长寿路居委会"`},
			NotExpectedContent: []string{`"` + fx.Old.ID + `"`, fx.Counsel.Description, "叶家宅路36号5楼"}, Check: "requests.json"},
		{Name: "requests open", Method: "GET", URL: "/open311/v2/requests.json?status=open", ExpectedStatus: 200,
			ExpectedContent: []string{fx.Repair.ID}, NotExpectedContent: []string{fx.Closed.ID}, Check: "requests.json"},
		{Name: "requests closed", Method: "GET", URL: "/open311/v2/requests.json?status=closed", ExpectedStatus: 200,
			ExpectedContent:    []string{fx.Closed.ID, `"status":"closed"`, `"status_notes":"已清运"`},
			NotExpectedContent: []string{fx.Repair.ID}, Check: "requests.json"},
		{Name: "requests open and closed", Method: "GET", URL: "/open311/v2/requests.json?status=open,closed", ExpectedStatus: 200,
			ExpectedContent: []string{fx.Closed.ID, fx.Repair.ID}, Check: "requests.json"},
		{Name: "requests bad status", Method: "GET", URL: "/open311/v2/requests.json?status=pending", ExpectedStatus: 400,
			ExpectedContent: []string{"status"}, Check: "errors"},
		{Name: "requests by service", Method: "GET", URL: "/open311/v2/requests.json?service_code=counselling", ExpectedStatus: 200,
			ExpectedContent: []string{fx.Counsel.ID}, NotExpectedContent: []string{fx.Repair.ID}, Check: "requests.json"},
		{Name: "requests of an unknown service", Method: "GET", URL: "/open311/v2/requests.json?service_code=pothole", ExpectedStatus: 200,
			ExpectedContent: []string{"[]"}, Check: "requests.json"},
		{Name: "requests by ids", Method: "GET", URL: "/open311/v2/requests.json?service_request_id=" + fx.Old.ID + "," + fx.Closed.ID + ",123",
			ExpectedStatus: 200, ExpectedContent: []string{fx.Old.ID, fx.Closed.ID}, NotExpectedContent: []string{fx.Repair.ID}, Check: "requests.json"},
		{Name: "requests in an old window", Method: "GET",
			URL:            "/open311/v2/requests.json?start_date=" + day(old.Add(-48*time.Hour)) + "&end_date=" + day(old.Add(48*time.Hour)),
			ExpectedStatus: 200, ExpectedContent: []string{fx.Old.ID}, NotExpectedContent: []string{fx.Repair.ID}, Check: "requests.json"},
		{Name: "requests from a start date", Method: "GET",
			URL:            "/open311/v2/requests.json?start_date=" + url.QueryEscape(old.Add(-time.Hour).Format(time.RFC3339)),
			ExpectedStatus: 200, ExpectedContent: []string{fx.Old.ID}, NotExpectedContent: []string{fx.Repair.ID}, Check: "requests.json"},
		{Name: "requests with an unescaped plus in the date", Method: "GET",
			URL:            "/open311/v2/requests.json?end_date=" + time.Now().Add(time.Hour).In(time.FixedZone("", 8*3600)).Format("2006-01-02T15:04:05+08:00"),
			ExpectedStatus: 200, ExpectedContent: []string{fx.Repair.ID}, Check: "requests.json"},
		{Name: "requests bad start date", Method: "GET", URL: "/open311/v2/requests.json?start_date=yesterday", ExpectedStatus: 400,
			ExpectedContent: []string{"start_date", "W3C"}, Check: "errors"},
		{Name: "requests bad end date", Method: "GET", URL: "/open311/v2/requests.json?end_date=2024-13-45", ExpectedStatus: 400,
			ExpectedContent: []string{"end_date"}, Check: "errors"},
		{Name: "requests span over 90 days", Method: "GET", URL: "/open311/v2/requests.json?start_date=2024-01-01&end_date=2024-06-01",
			ExpectedStatus: 400, ExpectedContent: []string{"90 days"}, Check: "errors"},
		{Name: "requests end before start", Method: "GET", URL: "/open311/v2/requests.json?start_date=2024-06-01&end_date=2024-05-01",
			ExpectedStatus: 400, ExpectedContent: []string{"after start_date"}, Check: "errors"},
		{Name: "requests with a wrong key", Method: "GET", URL: "/open311/v2/requests.json?api_key=nope", ExpectedStatus: 403,
			ExpectedContent: []string{"api_key"}, Check: "errors"},
		{Name: "requests full with a key", Method: "GET", URL: "/open311/v2/requests.json?api_key=" + apiKey, ExpectedStatus: 200,
			ExpectedContent: []string{fx.Counsel.Description, "叶家宅路36号5楼"}, Check: "requests.json"},
		{Name: "requests xml", Method: "GET", URL: "/open311/v2/requests.xml", ExpectedStatus: 200,
			ExpectedContent: []string{"<service_requests><request>", "<service_request_id>" + fx.Repair.ID + "</service_request_id>"},
			Check:           "xml:service_requests"},
		{Name: "requests xml error", Method: "GET", URL: "/open311/v2/requests.xml?start_date=nope", ExpectedStatus: 400,
			ExpectedContent: []string{"<code>400</code>"}, Check: "xml:errors"},

		// requests: one
		{Name: "public request", Method: "GET", URL: rq(fx.Repair.ID), ExpectedStatus: 200,
			ExpectedContent: []string{fx.Repair.Description, `"lat":31.240438`, `"address":"长寿路178号"`, `"service_name":"居家维修"`,
				`"status":"open"`, `"service_notice":"已受理，由长寿路居委会处理。"`, `"expected_datetime":null`, `"zipcode":null`},
			Check: "requests.json"},
		{Name: "public request in English", Method: "GET", URL: rq(fx.Repair.ID) + "?locale=en", ExpectedStatus: 200,
			ExpectedContent: []string{`"service_name":"Home repair"`, `"agency_responsible":"Changshou Road Neighbourhood Committee"`},
			Check:           "requests.json"},
		{Name: "sensitive request in public", Method: "GET", URL: rq(fx.Counsel.ID), ExpectedStatus: 200,
			ExpectedContent:    []string{`"description":null`, `"address":"叶家宅路居委会辖区"`, `"service_code":"counselling"`},
			NotExpectedContent: []string{fx.Counsel.Description, "叶家宅路36号5楼", "31.2436", "121.4268"}, Check: "requests.json"},
		{Name: "sensitive request with a key", Method: "GET", URL: rq(fx.Counsel.ID) + "?api_key=" + apiKey, ExpectedStatus: 200,
			ExpectedContent: []string{fx.Counsel.Description, "叶家宅路36号5楼", `"lat":31.2436`, `"long":121.4268`}, Check: "requests.json"},
		{Name: "sensitive request xml in public", Method: "GET", URL: "/open311/v2/requests/" + fx.Counsel.ID + ".xml", ExpectedStatus: 200,
			ExpectedContent:    []string{"<address>叶家宅路居委会辖区</address>"},
			NotExpectedContent: []string{fx.Counsel.Description, "<description>", "31.2436"}, Check: "xml:service_requests"},
		{Name: "request xml", Method: "GET", URL: "/open311/v2/requests/" + fx.Repair.ID + ".xml", ExpectedStatus: 200,
			ExpectedContent: []string{"<status>open</status>"}, Check: "xml:service_requests"},
		{Name: "unknown request", Method: "GET", URL: rq(hotline.TicketIDWithCheck("99999999")), ExpectedStatus: 404,
			Check: "errors"},
		{Name: "mistyped request id", Method: "GET", URL: rq("12345"), ExpectedStatus: 404, Check: "errors"},
		{Name: "request of another jurisdiction", Method: "GET", URL: rq(fx.Repair.ID) + "?jurisdiction_id=x", ExpectedStatus: 404,
			Check: "errors"},

		// tokens
		{Name: "token", Method: "GET", URL: "/open311/v2/tokens/" + fx.Repair.ID + ".json", ExpectedStatus: 200,
			Check: "tokens:" + fx.Repair.ID},
		{Name: "token xml", Method: "GET", URL: "/open311/v2/tokens/" + fx.Repair.ID + ".xml", ExpectedStatus: 200,
			ExpectedContent: []string{"<token>" + fx.Repair.ID + "</token>"}, Check: "xml:service_requests"},
		{Name: "unknown token", Method: "GET", URL: "/open311/v2/tokens/abc.json", ExpectedStatus: 404, Check: "errors"},

		// POST
		{Name: "create", Method: "POST", URL: "/open311/v2/requests.json", Body: form(valid...), Header: formHeader,
			ExpectedStatus: 201, ExpectedContent: []string{"长寿路居委会"}, Check: "created"},
		{Name: "create xml", Method: "POST", URL: "/open311/v2/requests.xml", Body: form(valid...), Header: formHeader,
			ExpectedStatus: 201, ExpectedContent: []string{"<service_request_id>", "<token>"}, Check: "xml:service_requests"},
		{Name: "create from JSON", Method: "POST", URL: "/open311/v2/requests.json",
			Body:   `{"api_key":"` + apiKey + `","service_code":"facilities","lat":31.240438,"long":121.435664,"description":"电梯坏了","consent":true}`,
			Header: jsonHeader, ExpectedStatus: 201, Check: "created"},
		{Name: "create by address only", Method: "POST", URL: "/open311/v2/requests.json",
			Body:   form("api_key", apiKey, "service_code", "sanitation", "address_string", "宜昌路231号", "description", "垃圾没人收"),
			Header: formHeader, ExpectedStatus: 201, ExpectedContent: []string{"宜昌路居委会"}, Check: "created"},
		{Name: "create by address_id only", Method: "POST", URL: "/open311/v2/requests.json",
			Body:   form("api_key", apiKey, "service_code", "sanitation", "address_id", "A-17", "description", "垃圾没人收"),
			Header: formHeader, ExpectedStatus: 201, ExpectedContent: []string{"社区生活服务中心"}, Check: "created"},
		{Name: "create with fields in the query", Method: "POST",
			URL:            "/open311/v2/requests.json?" + form("api_key", apiKey, "service_code", "other", "address_string", "长寿路178号", "description", "x"),
			ExpectedStatus: 201, Check: "created"},
		{Name: "create without a key", Method: "POST", URL: "/open311/v2/requests.json", Body: form(valid[2:]...), Header: formHeader,
			ExpectedStatus: 403, ExpectedContent: []string{"api_key"}, Check: "errors"},
		{Name: "create with a wrong key", Method: "POST", URL: "/open311/v2/requests.json",
			Body: form(append([]string{"api_key", "wrong"}, valid[2:]...)...), Header: formHeader,
			ExpectedStatus: 403, ExpectedContent: []string{"api_key"}, Check: "errors"},
		{Name: "create with a wrong key xml", Method: "POST", URL: "/open311/v2/requests.xml",
			Body: form(append([]string{"api_key", "wrong"}, valid[2:]...)...), Header: formHeader,
			ExpectedStatus: 403, ExpectedContent: []string{"<code>403</code>"}, Check: "xml:errors"},
		{Name: "create in another jurisdiction", Method: "POST", URL: "/open311/v2/requests.json",
			Body: form(append([]string{"jurisdiction_id", "sf.gov"}, valid...)...), Header: formHeader,
			ExpectedStatus: 404, Check: "errors"},
		{Name: "create in our jurisdiction", Method: "POST", URL: "/open311/v2/requests.json",
			Body: form(append([]string{"jurisdiction_id", jurisdiction}, valid...)...), Header: formHeader,
			ExpectedStatus: 201, Check: "created"},
		{Name: "create without service", Method: "POST", URL: "/open311/v2/requests.json",
			Body:   form("api_key", apiKey, "lat", "31.24", "long", "121.43", "description", "x"),
			Header: formHeader, ExpectedStatus: 400, ExpectedContent: []string{"service_code: required"}, Check: "errors"},
		{Name: "create of an unknown service", Method: "POST", URL: "/open311/v2/requests.json",
			Body:   form("api_key", apiKey, "service_code", "pothole", "lat", "31.24", "long", "121.43", "description", "x"),
			Header: formHeader, ExpectedStatus: 400, ExpectedContent: []string{"service_code: unknown service"}, Check: "errors"},
		{Name: "create without location", Method: "POST", URL: "/open311/v2/requests.json",
			Body:   form("api_key", apiKey, "service_code", "home_repair", "description", "x"),
			Header: formHeader, ExpectedStatus: 400, ExpectedContent: []string{"lat and long, address_string or address_id"}, Check: "errors"},
		{Name: "create with lat only", Method: "POST", URL: "/open311/v2/requests.json",
			Body:   form("api_key", apiKey, "service_code", "home_repair", "lat", "31.24", "description", "x"),
			Header: formHeader, ExpectedStatus: 400, ExpectedContent: []string{"location:"}, Check: "errors"},
		{Name: "create with a bad lat", Method: "POST", URL: "/open311/v2/requests.json",
			Body:   form("api_key", apiKey, "service_code", "home_repair", "lat", "north", "long", "121.43", "description", "x"),
			Header: formHeader, ExpectedStatus: 400, ExpectedContent: []string{"lat: must be a decimal number"}, Check: "errors"},
		{Name: "create with a bad phone", Method: "POST", URL: "/open311/v2/requests.json",
			Body:   form("api_key", apiKey, "service_code", "home_repair", "address_string", "长寿路178号", "description", "x", "phone", "12"),
			Header: formHeader, ExpectedStatus: 400, ExpectedContent: []string{"phone: not a valid phone number; use 11 digits like 13812345678"}, Check: "errors"},
		{Name: "create with several bad fields", Method: "POST", URL: "/open311/v2/requests.json",
			Body:   form("api_key", apiKey, "service_code", "home_repair", "address_string", "长寿路178号", "email", "x@", "media_url", "ftp://x"),
			Header: formHeader, ExpectedStatus: 400, ExpectedContent: []string{"description:", "email:", "media_url:"}, Check: "errors"},
		{Name: "create with a bad idempotency key", Method: "POST", URL: "/open311/v2/requests.json", Body: form(valid...),
			Header:         http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Idempotency-Key": {strings.Repeat("k", 129)}},
			ExpectedStatus: 400, ExpectedContent: []string{"Idempotency-Key"}, Check: "errors"},
		{Name: "create with JSON that is not an object", Method: "POST", URL: "/open311/v2/requests.json", Body: `["x"]`,
			Header: jsonHeader, ExpectedStatus: 400, Check: "errors"},
		{Name: "create with a nested JSON field", Method: "POST", URL: "/open311/v2/requests.json",
			Body: `{"api_key":"` + apiKey + `","service_code":{"a":1}}`, Header: jsonHeader, ExpectedStatus: 400, Check: "errors"},
		{Name: "create with an unknown content type", Method: "POST", URL: "/open311/v2/requests.json", Body: "x",
			Header: http.Header{"Content-Type": {"text/plain"}}, ExpectedStatus: 400, Check: "errors"},
		{Name: "create too large", Method: "POST", URL: "/open311/v2/requests.json",
			Body:   form(append(valid, "description", strings.Repeat("x", open311.MaxBodyBytes))...),
			Header: formHeader, ExpectedStatus: 413, Check: "errors"},
		{Name: "create too large JSON", Method: "POST", URL: "/open311/v2/requests.json",
			Body:   `{"description":"` + strings.Repeat("x", open311.MaxBodyBytes) + `"}`,
			Header: jsonHeader, ExpectedStatus: 413, Check: "errors"},

		// routing
		{Name: "wrong method", Method: "DELETE", URL: "/open311/v2/requests.json", ExpectedStatus: 405, Check: "errors"},
		{Name: "POST to services", Method: "POST", URL: "/open311/v2/services.json", ExpectedStatus: 405, Check: "errors"},
		{Name: "unknown endpoint", Method: "GET", URL: "/open311/v2/reports.json", ExpectedStatus: 404, Check: "errors"},
		{Name: "no format", Method: "GET", URL: "/open311/v2/services", ExpectedStatus: 404, Check: "errors"},
		{Name: "unknown format", Method: "GET", URL: "/open311/v2/services.html", ExpectedStatus: 404, Check: "errors"},
		{Name: "too deep", Method: "GET", URL: "/open311/v2/requests/1/2.json", ExpectedStatus: 404, Check: "errors"},
		{Name: "outside the mount", Method: "GET", URL: "/api/v1/services", ExpectedStatus: 404, Check: "errors"},
	}

	for _, sc := range scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			var body io.Reader
			if sc.Body != "" {
				body = strings.NewReader(sc.Body)
			}
			w := fx.Do(sc.Method, sc.URL, body, sc.Header)
			got := w.Body.Bytes()
			if w.Code != sc.ExpectedStatus {
				t.Fatalf("status %d; want %d\n%s", w.Code, sc.ExpectedStatus, got)
			}
			for _, want := range sc.ExpectedContent {
				if !bytes.Contains(got, []byte(want)) {
					t.Errorf("body lacks %q\n%s", want, got)
				}
			}
			for _, bad := range append(sc.NotExpectedContent, phoneForms...) {
				if bytes.Contains(got, []byte(bad)) {
					t.Errorf("body shows %q\n%s", bad, got)
				}
			}
			AssertBody(t, sc.Check, w)
		})
	}
}

// AssertBody runs a scenario's body check.
func AssertBody(t *testing.T, check string, w *httptest.ResponseRecorder) {
	t.Helper()
	got := w.Body.Bytes()
	ct := w.Header().Get("Content-Type")
	switch {
	case strings.HasPrefix(check, "xml:"):
		if !strings.HasPrefix(ct, "text/xml") {
			t.Errorf("Content-Type %q; want text/xml", ct)
		}
		AssertXML(t, strings.TrimPrefix(check, "xml:"), got)
		return
	case !strings.HasPrefix(ct, "application/json"):
		t.Errorf("Content-Type %q; want application/json", ct)
	}
	switch {
	case check == "errors":
		AssertErrors(t, w.Code, got)
	case check == "created":
		AssertCreated(t, got)
	case check == "discovery":
		AssertDiscovery(t, got)
	case strings.HasPrefix(check, "tokens:"):
		AssertTokens(t, got, strings.TrimPrefix(check, "tokens:"))
	case strings.HasSuffix(check, ".json"):
		AssertSchema(t, check, got)
	default:
		t.Fatalf("scenario has no body check")
	}
}

func TestCreateIsIdempotentAndReadable(t *testing.T) {
	fx := MustFixture(t)
	body := form("api_key", apiKey, "service_code", "counselling", "lat", "31.2431", "long", "121.4276",
		"description", "想和心理老师谈谈", "phone", "139 0000 1111", "first_name", "丽")
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Idempotency-Key": {"retry-1"}}

	w := fx.Do("POST", "/open311/v2/requests.json", strings.NewReader(body), h)
	if w.Code != http.StatusCreated {
		t.Fatalf("first POST: %d %s", w.Code, w.Body)
	}
	id := AssertCreated(t, w.Body.Bytes())
	w = fx.Do("POST", "/open311/v2/requests.json", strings.NewReader(body), h)
	if w.Code != http.StatusOK {
		t.Fatalf("retry: %d %s; want 200", w.Code, w.Body)
	}
	if got := AssertCreated(t, w.Body.Bytes()); got != id {
		t.Fatalf("retry gave %s; want %s", got, id)
	}

	stored, err := fx.Store.FindTicket(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Channel != hotline.ChannelOpen311 || stored.Contact.Phone != "+8613900001111" || stored.Location.Committee != "c01" {
		t.Fatalf("stored %+v", stored)
	}
	for _, u := range []string{"/open311/v2/requests/" + id + ".json", "/open311/v2/requests/" + id + ".json?api_key=" + apiKey} {
		w = fx.Do("GET", u, nil, nil)
		AssertSchema(t, "requests.json", w.Body.Bytes())
		for _, bad := range []string{"13900001111", "丽"} {
			if strings.Contains(w.Body.String(), bad) {
				t.Errorf("%s shows contact %q: %s", u, bad, w.Body)
			}
		}
	}
}

func TestPublicDescriptionHidesTypedNumbers(t *testing.T) {
	fx := MustFixture(t)
	w := fx.Do("POST", "/open311/v2/requests.json", strings.NewReader(form("api_key", apiKey, "service_code", "home_repair",
		"address_string", "长寿路178号", "description", "水管坏了，请打我电话 138 1234 5678，住3楼301室")), formHeader)
	id := AssertCreated(t, w.Body.Bytes())
	w = fx.Do("GET", "/open311/v2/requests/"+id+".json", nil, nil)
	if strings.Contains(w.Body.String(), "5678") || !strings.Contains(w.Body.String(), "301室") {
		t.Fatalf("public description: %s", w.Body)
	}
}

func TestSensitiveCategoriesAreSensitive(t *testing.T) {
	// The scenarios above rely on the demo catalogue's flags.
	_, c := network.Demo()
	for code, want := range map[string]bool{"counselling": true, "home_repair": false, "sanitation": false} {
		if got, ok := c.Find(code); !ok || got.Sensitive != want {
			t.Errorf("%s: sensitive=%v found=%v; want %v", code, got.Sensitive, ok, want)
		}
	}
}

// denyAll is a rate limiter that has run out.
type denyAll struct{}

func (denyAll) Allow(context.Context, string, int, time.Duration) (bool, time.Duration, error) {
	return false, 1500 * time.Millisecond, nil
}

func TestRateLimited(t *testing.T) {
	fx := MustFixture(t)
	fx.Handler.Limiter = denyAll{}
	for _, u := range []string{"/open311/v2/services.json", "/open311/v2/requests.json"} {
		for _, m := range []string{"GET", "POST"} {
			if u == "/open311/v2/services.json" && m == "POST" {
				continue
			}
			w := fx.Do(m, u, strings.NewReader(""), formHeader)
			if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "2" {
				t.Errorf("%s %s: %d Retry-After %q; want 429 and 2", m, u, w.Code, w.Header().Get("Retry-After"))
			}
			AssertErrors(t, w.Code, w.Body.Bytes())
		}
	}
}

func TestRealRateLimiter(t *testing.T) {
	fx := MustFixture(t)
	client, prefix := redistest.New(t)
	fx.Handler.Limiter = redisstore.NewRateLimiter(redisstore.NewDB(client, prefix))
	var last int
	for i := 0; i < 25; i++ {
		w := fx.Do("POST", "/open311/v2/requests.json", strings.NewReader("service_code=x"), formHeader)
		last = w.Code
	}
	if last != http.StatusTooManyRequests {
		t.Fatalf("25 POSTs in a row: last status %d; want 429", last)
	}
}

func TestStoreUnavailable(t *testing.T) {
	fx := MustFixture(t)
	// Nothing listens on port 1: every store call fails to connect.
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { dead.Close() })
	store := redisstore.NewTicketStore(redisstore.NewDB(dead, "dead"))
	fx.Handler.Tickets = store
	fx.Handler.Intake = intake.New(store, fx.Handler.Directory)
	scenarios := []struct{ method, url, body string }{
		{"GET", "/open311/v2/requests.json", ""},
		{"GET", "/open311/v2/requests/" + fx.Repair.ID + ".xml", ""},
		{"POST", "/open311/v2/requests.json", form("api_key", apiKey, "service_code", "other", "address_string", "x", "description", "x")},
	}
	for _, sc := range scenarios {
		w := fx.Do(sc.method, sc.url, strings.NewReader(sc.body), formHeader)
		if w.Code != http.StatusServiceUnavailable {
			t.Errorf("%s %s: %d %s; want 503", sc.method, sc.url, w.Code, w.Body)
		}
	}
}

func FuzzOpen311Post(f *testing.F) {
	f.Add(form("api_key", apiKey, "service_code", "home_repair", "lat", "31.24", "long", "121.43", "description", "漏水"))
	f.Add(form("api_key", apiKey, "service_code", "counselling", "address_string", "长寿路178号", "description", "x", "phone", "１３８１２３４５６７８"))
	f.Add(form("api_key", apiKey, "service_code", "home_repair", "lat", "NaN", "long", "Inf", "description", "x"))
	f.Add(form("api_key", apiKey, "service_code", "home_repair", "lat", "1e400", "long", "-0", "email", "a@b@c", "media_url", "http://[::1"))
	f.Add("api_key=" + apiKey + "&service_code=%zz&&&=;")
	f.Add(form("api_key", apiKey, "jurisdiction_id", "x", "consent", "maybe"))
	f.Add("")
	fx := MustFixture(f)
	f.Fuzz(func(t *testing.T, body string) {
		w := fx.Do("POST", "/open311/v2/requests.json", strings.NewReader(body), formHeader)
		if w.Code >= 500 {
			t.Fatalf("status %d for body %q: %s", w.Code, body, w.Body)
		}
		if w.Code >= 400 {
			AssertErrors(t, w.Code, w.Body.Bytes())
		}
	})
}
