// Package static holds the hotline's web pages, embedded in the binary so
// that `hotline serve` works on a bare machine with nothing beside it.
//
// Every file sits at the root of FS and pages refer to each other and to
// their assets by absolute path (/app.css, /form.js, …). The server maps
// / to index.html, /status to status.html, /login to login.html, /staff to
// staff.html, /board to board.html, /projects to projects.html, /projects/{id}
// to project.html, and serves every other file of FS at /{name}.
//
// The pages are plain HTML, CSS and ES2020 modules with no build step and
// nothing loaded from elsewhere, written to pass the server's strict
// Content-Security-Policy: no inline scripts, no inline event handlers, no
// style attributes. Chinese is the default language; English is chosen with
// the switch on each page (kept in localStorage) or with ?lang=en. All
// strings of both languages live in i18n.js.
package static

import "embed"

// FS holds the pages (index.html, status.html, login.html, staff.html, board.html), the
// shared stylesheet, the scripts and the icon.
//
//go:embed *.html *.css *.js *.svg
var FS embed.FS
