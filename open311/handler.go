// Package open311 serves the hotline's tickets as an Open311 GeoReport v2
// endpoint (wiki.open311.org/GeoReport_v2), so that civic apps and city
// platforms can read the street's requests and file new ones. Reading needs
// no key and never shows contact details; sensitive categories show neither
// description nor exact location unless a valid api_key is given.
package open311

import (
	"crypto/subtle"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/intake"
)

// Prefix is where the handler is mounted. It receives full paths.
const Prefix = "/open311/v2/"

// MaxBodyBytes bounds a POST body. A GeoReport request is a handful of short
// fields plus a description of at most 4000 characters (12 KB of UTF-8),
// so 64 KiB is ample and anything bigger is refused with 413.
const MaxBodyBytes = 64 << 10

// Rate limits per client address, shared by every replica through the
// RateLimiter. Reads are cheap and apps poll; writes create work for people.
const (
	readLimit  = 120
	writeLimit = 20
	window     = time.Minute
)

// maxIDs bounds a service_request_id list; it is also the spec's page size.
const maxIDs = 1000

// shanghai is the zone Open311 times are written in: the jurisdiction's
// local time, so that a request filed at 09:00 reads as 09:00.
var shanghai = time.FixedZone("CST", 8*60*60)

// Handler serves GeoReport v2 under Prefix.
type Handler struct {
	Tickets   hotline.TicketStore
	Directory hotline.Directory
	Intake    *intake.Service
	// APIKeys are the valid keys for POST and for full reads.
	APIKeys []string
	// Jurisdiction is the jurisdiction_id, e.g. "caojiadu.jingan.shanghai.cn".
	// A request naming another jurisdiction gets 404, as the spec says.
	Jurisdiction string
	// BaseURL is the public base URL for discovery, e.g. "http://localhost:8080".
	BaseURL string
	Limiter hotline.RateLimiter // may be nil
	Logger  *slog.Logger
	// Audit records every keyed read that shows residents' addresses or
	// recordings (request.go, recordFull); a read that cannot be recorded
	// is refused. Nil records nothing: set it wherever real tickets are
	// served.
	Audit hotline.AuditLog
}

type format int

const (
	formatJSON format = iota
	formatXML
)

// ServeHTTP routes /open311/v2/{endpoint}.{json|xml}.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f := formatJSON
	defer func() {
		// A panic is a bug; the client still gets a well-formed error
		// and the process keeps serving.
		if v := recover(); v != nil {
			h.logger().Error("open311 panic", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v))
			h.writeErrors(w, f, http.StatusInternalServerError, "internal error")
		}
	}()

	rest, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if !ok {
		h.writeErrors(w, f, http.StatusNotFound, "not an Open311 path; use "+Prefix+"services.json")
		return
	}
	ext := path.Ext(rest)
	switch ext {
	case ".json":
	case ".xml":
		f = formatXML
	default:
		h.writeErrors(w, f, http.StatusNotFound, "unknown format; end the path with .json or .xml")
		return
	}
	parts := strings.Split(strings.TrimSuffix(rest, ext), "/")

	switch {
	case len(parts) == 1 && parts[0] == "discovery":
		h.only(w, r, f, http.MethodGet, h.handleDiscovery)
	case len(parts) == 1 && parts[0] == "services":
		h.only(w, r, f, http.MethodGet, h.handleServiceList)
	case len(parts) == 2 && parts[0] == "services" && parts[1] != "":
		h.only(w, r, f, http.MethodGet, func(w http.ResponseWriter, r *http.Request, f format) {
			h.handleServiceDefinition(w, r, f, parts[1])
		})
	case len(parts) == 1 && parts[0] == "requests":
		switch r.Method {
		case http.MethodGet:
			h.handleRequestList(w, r, f)
		case http.MethodPost:
			h.handleRequestCreate(w, r, f)
		default:
			w.Header().Set("Allow", "GET, POST")
			h.writeErrors(w, f, http.StatusMethodNotAllowed, "use GET to read requests or POST to create one")
		}
	case len(parts) == 2 && parts[0] == "requests" && parts[1] != "":
		h.only(w, r, f, http.MethodGet, func(w http.ResponseWriter, r *http.Request, f format) {
			h.handleRequestGet(w, r, f, parts[1])
		})
	case len(parts) == 2 && parts[0] == "tokens" && parts[1] != "":
		h.only(w, r, f, http.MethodGet, func(w http.ResponseWriter, r *http.Request, f format) {
			h.handleTokenGet(w, r, f, parts[1])
		})
	default:
		h.writeErrors(w, f, http.StatusNotFound, "unknown endpoint; see "+Prefix+"discovery.json")
	}
}

// only runs handle when the method is allowed, else answers 405.
func (h *Handler) only(w http.ResponseWriter, r *http.Request, f format, method string, handle func(http.ResponseWriter, *http.Request, format)) {
	if r.Method != method {
		w.Header().Set("Allow", method)
		h.writeErrors(w, f, http.StatusMethodNotAllowed, "use "+method)
		return
	}
	handle(w, r, f)
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

func (h *Handler) directory() (*hotline.Network, *hotline.Catalogue) {
	var n *hotline.Network
	var c *hotline.Catalogue
	if h.Directory != nil {
		n, c = h.Directory.Network(), h.Directory.Catalogue()
	}
	if n == nil {
		n = &hotline.Network{}
	}
	if c == nil {
		c = &hotline.Catalogue{}
	}
	return n, c
}

// checkJurisdiction refuses a jurisdiction_id that is not ours; the spec
// answers an unknown jurisdiction with 404. Leaving it out is fine: this
// endpoint serves one jurisdiction.
func (h *Handler) checkJurisdiction(j string) error {
	if j != "" && j != h.Jurisdiction {
		return hotline.Errorf(hotline.ENOTFOUND, "jurisdiction_id %q is not served here; use %q or leave it out", clip(j, 64), h.Jurisdiction)
	}
	return nil
}

// validKey compares k with every configured key in constant time, so the
// time taken says nothing about how much of a key was right.
func (h *Handler) validKey(k string) bool {
	ok := 0
	for _, want := range h.APIKeys {
		if want != "" && k != "" {
			ok |= subtle.ConstantTimeCompare([]byte(k), []byte(want))
		}
	}
	return ok == 1
}

// allow applies the per-address rate limit. When the limiter itself fails
// the request goes through: refusing residents because a counter is down
// would be worse than a burst.
func (h *Handler) allow(r *http.Request, kind string, limit int) error {
	if h.Limiter == nil {
		return nil
	}
	ok, retry, err := h.Limiter.Allow(r.Context(), "open311:"+kind+":"+clientAddr(r), limit, window)
	if err != nil {
		h.logger().Warn("open311 rate limiter failed; letting the request through", "code", hotline.ErrorCode(err))
		return nil
	}
	if !ok {
		secs := int(math.Ceil(retry.Seconds()))
		if secs < 1 {
			secs = 1
		}
		return &hotline.Error{Code: hotline.ETOOMANY, Message: fmt.Sprintf("too many requests; retry in %d seconds", secs),
			Err: retryAfter(secs)}
	}
	return nil
}

// retryAfter carries the Retry-After seconds from allow to fail.
type retryAfter int

func (r retryAfter) Error() string { return fmt.Sprintf("retry after %ds", int(r)) }

// clientAddr is the host of RemoteAddr. A reverse proxy in front must set
// RemoteAddr to the real client (the server package does), else every
// client shares one budget.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// statusOf maps an error code to the HTTP status Open311 clients expect:
// the hotline's mapping, except that a bad or missing api_key is 403 in
// the spec, not 401.
func statusOf(code string) int {
	if code == hotline.EUNAUTHORIZED {
		return http.StatusForbidden
	}
	return hotline.HTTPStatus(code)
}

// fail answers err in the spec's error format. Only internal and
// unavailable errors are logged, with their cause; none of them carries
// personal data because intake never puts any in a message.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, f format, err error) {
	code := hotline.ErrorCode(err)
	status := statusOf(code)
	if errors.Is(err, errTooLarge) {
		status = http.StatusRequestEntityTooLarge
	}
	switch code {
	case hotline.EINTERNAL, hotline.EUNAVAILABLE:
		h.logger().Error("open311 request failed", "method", r.Method, "path", r.URL.Path, "code", code, "err", err)
	}
	var ra retryAfter
	if errors.As(err, &ra) {
		w.Header().Set("Retry-After", fmt.Sprint(int(ra)))
	}
	var descs []string
	if fields := hotline.ErrorFields(err); len(fields) > 0 {
		// One error per field, as the spec's errors list allows, in a
		// stable order so clients and tests see the same answer.
		keys := make([]string, 0, len(fields))
		for k := range fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			descs = append(descs, k+": "+fields[k])
		}
	} else {
		descs = []string{hotline.ErrorMessage(err)}
	}
	h.writeErrors(w, f, status, descs...)
}

// apiError is one element of the spec's error list.
type apiError struct {
	Code        int    `json:"code" xml:"code"`
	Description string `json:"description" xml:"description"`
}

type errorsXML struct {
	XMLName xml.Name   `xml:"errors"`
	Errors  []apiError `xml:"error"`
}

func (h *Handler) writeErrors(w http.ResponseWriter, f format, status int, descs ...string) {
	list := make([]apiError, len(descs))
	for i, d := range descs {
		list[i] = apiError{Code: status, Description: d}
	}
	h.write(w, f, status, list, errorsXML{Errors: list})
}

// write encodes v as JSON or x as XML. The two differ because the XML
// format wraps lists in a named root (services/service, errors/error …).
func (h *Handler) write(w http.ResponseWriter, f format, status int, v, x any) {
	var (
		b   []byte
		err error
	)
	if f == formatXML {
		b, err = xml.Marshal(x)
		if err == nil {
			b = append([]byte(xml.Header), b...)
		}
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	} else {
		b, err = json.Marshal(v)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	}
	if err != nil {
		h.logger().Error("open311 encode failed", "err", err)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		status = http.StatusInternalServerError
		b = []byte(`[{"code":500,"description":"internal error"}]`)
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// locale picks "en" from ?locale=en or an Accept-Language that prefers
// English over Chinese; Chinese otherwise.
func locale(r *http.Request, explicit string) string {
	if l := strings.ToLower(strings.TrimSpace(explicit)); l != "" {
		if strings.HasPrefix(l, "en") {
			return "en"
		}
		return "zh"
	}
	best, bestQ := "zh", -1.0
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		tag = strings.ToLower(strings.TrimSpace(tag))
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if _, err := fmt.Sscanf(v, "%g", &q); err != nil {
				q = 0
			}
		}
		var lang string
		switch {
		case tag == "en" || strings.HasPrefix(tag, "en-"):
			lang = "en"
		case tag == "zh" || strings.HasPrefix(tag, "zh-"):
			lang = "zh"
		default:
			continue
		}
		if q > 0 && q > bestQ {
			best, bestQ = lang, q
		}
	}
	return best
}

func clip(s string, n int) string {
	r := []rune(strings.ToValidUTF8(s, ""))
	if len(r) <= n {
		return string(r)
	}
	return string(r[:n]) + "…"
}
