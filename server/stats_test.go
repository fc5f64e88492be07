package server_test

import "testing"

func TestStatsAPI(t *testing.T) {
	f := mustDispatchFixture(t)
	a := f.MustRouted(t, "sanitation")
	f.Do(t, "POST", "/api/v1/tickets/"+a.ID+"/accept", "", f.C01, map[string]string{"X-CSRF-Token": f.C01.CSRF})

	Run(t, f.TestServer, []Scenario{
		{Name: "unauthenticated", URL: "/api/v1/stats", ExpectedStatus: 401},
		{Name: "committee: own unit by default", URL: "/api/v1/stats?from=2000-01-01&to=2999-12-31", Session: f.C01, ExpectedStatus: 200,
			ExpectedContent: []string{`"unit":"c01"`, `"unit_id":"c01"`, `"response_rate":`, `"tiers":[{"tier":1`}},
		{Name: "committee: another committee", URL: "/api/v1/stats?unit=c02", Session: f.C01, ExpectedStatus: 403},
		{Name: "street dispatcher: a committee below", URL: "/api/v1/stats?unit=c01&from=2000-01-01&to=2999-12-31", Session: f.Center,
			ExpectedStatus: 200, ExpectedContent: []string{`"unit_id":"c01"`}},
		{Name: "admin: everything", URL: "/api/v1/stats?from=2000-01-01&to=2999-12-31", Session: f.Admin, ExpectedStatus: 200,
			ExpectedContent: []string{`"all":{"offers":`}, NotExpectedContent: []string{`"unit":`}},
		{Name: "volunteer", URL: "/api/v1/stats", Session: f.Volunteer, ExpectedStatus: 403},
		{Name: "unknown unit", URL: "/api/v1/stats?unit=c99", Session: f.Admin, ExpectedStatus: 400, ExpectedContent: []string{`"unit":"no such unit"`}},
		{Name: "bad dates", URL: "/api/v1/stats?from=yesterday&to=2025-13-01", Session: f.Admin, ExpectedStatus: 400,
			ExpectedContent: []string{`"from":`, `"to":`}},
		{Name: "reversed period", URL: "/api/v1/stats?from=2025-03-02&to=2025-03-01", Session: f.Admin, ExpectedStatus: 400},
	})
}
