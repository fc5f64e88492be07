package server

import (
	"io/fs"
	"net/http"
)

// pages maps each page's path to its file in Static.
var pages = map[string]string{
	"GET /{$}":    "index.html",
	"GET /status": "status.html",
	"GET /login":  "login.html",
	"GET /staff":  "staff.html",
	"GET /board":  "board.html",
}

func (s *Server) registerPageRoutes() {
	for pattern, name := range pages {
		s.mux.Handle(pattern, s.handlePage(name))
	}
	s.mux.HandleFunc("GET /{file}", s.handleAsset)
}

// handlePage serves one page. /staff is served to anyone: the page asks
// /api/v1/me and goes to /login itself, and holds no data of its own.
func (s *Server) handlePage(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serveFile(w, r, name)
	})
}

// handleAsset serves the files at the root of Static (stylesheet,
// scripts, icon) and nothing else: a name that is not a file there is 404.
func (s *Server) handleAsset(w http.ResponseWriter, r *http.Request) {
	s.serveFile(w, r, r.PathValue("file"))
}

func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, name string) {
	if s.Static == nil || !fs.ValidPath(name) || name == "." {
		http.NotFound(w, r)
		return
	}
	fi, err := fs.Stat(s.Static, name)
	if err != nil || !fi.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	// Embedded files carry no modification time, so browsers cannot ask
	// "changed since?"; no-cache makes them revalidate each time rather
	// than keep a page from before an upgrade.
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeFileFS(w, r, s.Static, name)
}
