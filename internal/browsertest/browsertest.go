// Package browsertest drives the web pages in Debian's headless Chromium
// for the browser tests of several packages: a phone-sized tab, with every
// Content-Security-Policy violation, uncaught exception and console error
// collected, so a test can fail on any of them.
package browsertest

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// ChromiumPath is where Debian installs Chromium (apt-get install chromium).
const ChromiumPath = "/usr/bin/chromium"

// StepTimeout bounds one step. Steps take well under a second; the margin
// is for a loaded 2-core CI machine where Chromium itself is slow.
const StepTimeout = 45 * time.Second

// cspRecorder runs before any script of every page (scripts injected over
// the DevTools protocol are not subject to the page's CSP) and keeps every
// Content-Security-Policy violation, so a test can assert the pages need
// nothing the policy forbids: no inline script, no style attribute, no
// outside resource.
const cspRecorder = `window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + (e.sourceFile || "") + ":" + e.lineNumber);
});`

// defaultWhere describes the page when a step fails: its URL and the
// alerts it shows.
const defaultWhere = `location.href + " | alerts: " +
  Array.from(document.querySelectorAll("[role=alert]"), (e) => e.textContent.trim()).filter(Boolean).join(" / ")`

// Browser is a headless Chromium tab on a phone-sized screen.
type Browser struct {
	// Ctx is the tab's context, for chromedp calls of a test's own.
	Ctx context.Context
	// Where is a JavaScript expression (a string) that describes the page
	// when a step fails; by default its URL and its alerts.
	Where string

	mu       sync.Mutex
	problems []string
}

// New starts Chromium with a fresh profile. Without a Chromium binary the
// test is skipped on a developer's machine and fails in CI (CI set), where
// a silent skip would hide that the pages were never driven.
func New(t *testing.T) *Browser {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set but there is no Chromium at %s: install it (apt-get install chromium fonts-wqy-microhei)", ChromiumPath)
		}
		t.Skipf("no Chromium at %s; install it to run the browser tests", ChromiumPath)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(ChromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(412, 915),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)

	b := &Browser{Where: defaultWhere}
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			msg := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
			b.Problem("uncaught exception: " + msg)
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				b.Problem("console.error: " + strings.Join(parts, " "))
			}
		}
	}))
	t.Cleanup(cancel)
	b.Ctx = ctx

	// The first Run starts the browser; it must have no deadline of its own.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(412, 915, chromedp.EmulateMobile)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument,
		page.AddScriptToEvaluateOnNewDocumentParams{Source: cspRecorder}); err != nil {
		t.Fatalf("install the CSP recorder: %v", err)
	}
	return b
}

// Problem records something the page did wrong; CheckPage reports it.
func (b *Browser) Problem(s string) {
	b.mu.Lock()
	b.problems = append(b.problems, s)
	b.mu.Unlock()
}

// Do runs steps with a deadline, failing the test with what it was doing,
// where the page was and what the page complained of.
func (b *Browser) Do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, StepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		dctx, dcancel := context.WithTimeout(b.Ctx, 5*time.Second)
		defer dcancel()
		where, _ := chromedp.Run(dctx, chromedp.Evaluate[string](b.Where))
		b.mu.Lock()
		problems := strings.Join(b.problems, "; ")
		b.mu.Unlock()
		t.Fatalf("%s: %v (at %s; page problems: %s)", what, err, where, problems)
	}
}

// Text returns the visible text of the first element matching css.
func (b *Browser) Text(t *testing.T, css string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, StepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		t.Fatalf("text of %s: %v", css, err)
	}
	return strings.TrimSpace(s)
}

// Eval evaluates a JavaScript expression into T.
func Eval[T any](t *testing.T, b *Browser, js string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, StepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("eval %s: %v", js, err)
	}
	return v
}

// CheckPage fails the test if the current page broke the CSP, threw or
// logged an error since the last check.
func (b *Browser) CheckPage(t *testing.T) {
	t.Helper()
	if v := Eval[[]string](t, b, `window.__csp || []`); len(v) > 0 {
		t.Errorf("%s: Content-Security-Policy violations: %q", Eval[string](t, b, `location.pathname`), v)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		t.Errorf("page problem: %s", p)
	}
	b.problems = nil
}
