package server_test

import (
	"io/fs"
	"testing"

	"github.com/caojiadu/hotline/static"
)

func TestPages(t *testing.T) {
	ts := MustOpenServer(t)
	headers := map[string]string{
		"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
			"connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
		"X-Frame-Options":        "DENY",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "same-origin",
	}
	scenarios := []Scenario{
		{Name: "form", URL: "/", ExpectedStatus: 200, ExpectedContent: []string{"<html"}, ExpectedHeaders: headers},
		{Name: "form in English", URL: "/?lang=en", ExpectedStatus: 200, ExpectedContent: []string{"<html"}},
		{Name: "status", URL: "/status?id=160035", ExpectedStatus: 200, ExpectedContent: []string{"<html"}, ExpectedHeaders: headers},
		{Name: "login", URL: "/login", ExpectedStatus: 200, ExpectedContent: []string{"<html"}, ExpectedHeaders: headers},
		{Name: "staff", URL: "/staff", ExpectedStatus: 200, ExpectedContent: []string{"<html"}, ExpectedHeaders: headers},
		{Name: "missing asset", URL: "/nothing.js", ExpectedStatus: 404, ExpectedHeaders: headers},
		{Name: "no directory walk", URL: "/..%2fgo.mod", ExpectedStatus: 404},
		{Name: "no nested paths", URL: "/a/b.css", ExpectedStatus: 404},
		{Name: "API errors carry the headers too", URL: "/api/v1/me", ExpectedStatus: 401, ExpectedHeaders: headers},
	}
	// Every file of Static is served at /{name}.
	entries, err := fs.ReadDir(static.FS, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || e.Name() == "index.html" {
			continue
		}
		scenarios = append(scenarios, Scenario{Name: "asset " + e.Name(), URL: "/" + e.Name(), ExpectedStatus: 200,
			ExpectedHeaders: map[string]string{"X-Content-Type-Options": "nosniff"}})
	}
	Run(t, ts, scenarios)
}
