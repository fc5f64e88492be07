package open311

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/intake"
)

// window90 is the spec's longest date range and the default window of a
// requests query without dates.
const window90 = 90 * 24 * time.Hour

// request is one ticket as GeoReport v2 shows it. Pointer fields are null in
// JSON (and absent in XML) when there is nothing to show.
type request struct {
	XMLName           xml.Name `json:"-" xml:"request"`
	ServiceRequestID  string   `json:"service_request_id" xml:"service_request_id"`
	Status            string   `json:"status" xml:"status"`
	StatusNotes       *string  `json:"status_notes" xml:"status_notes"`
	ServiceName       *string  `json:"service_name" xml:"service_name"`
	ServiceCode       string   `json:"service_code" xml:"service_code"`
	Description       *string  `json:"description" xml:"description"`
	AgencyResponsible *string  `json:"agency_responsible" xml:"agency_responsible"`
	ServiceNotice     *string  `json:"service_notice" xml:"service_notice"`
	RequestedDatetime string   `json:"requested_datetime" xml:"requested_datetime"`
	UpdatedDatetime   *string  `json:"updated_datetime" xml:"updated_datetime"`
	ExpectedDatetime  *string  `json:"expected_datetime" xml:"expected_datetime"`
	Address           *string  `json:"address" xml:"address"`
	AddressID         *string  `json:"address_id" xml:"address_id"`
	Zipcode           *string  `json:"zipcode" xml:"zipcode"`
	Lat               *float64 `json:"lat" xml:"lat"`
	Long              *float64 `json:"long" xml:"long"`
	MediaURL          *string  `json:"media_url" xml:"media_url"`
}

type requestsXML struct {
	XMLName  xml.Name  `xml:"service_requests"`
	Requests []request `xml:"request"`
}

// created is the answer to a POST; the token is the ticket id, since the
// ticket exists as soon as the POST answers.
type created struct {
	XMLName          xml.Name `json:"-" xml:"request"`
	ServiceRequestID string   `json:"service_request_id" xml:"service_request_id"`
	Token            string   `json:"token" xml:"token"`
	ServiceNotice    *string  `json:"service_notice" xml:"service_notice"`
	AccountID        *string  `json:"account_id" xml:"account_id"`
}

type createdXML struct {
	XMLName  xml.Name  `xml:"service_requests"`
	Requests []created `xml:"request"`
}

type token struct {
	XMLName          xml.Name `json:"-" xml:"request"`
	ServiceRequestID string   `json:"service_request_id" xml:"service_request_id"`
	Token            string   `json:"token" xml:"token"`
}

type tokensXML struct {
	XMLName  xml.Name `xml:"service_requests"`
	Requests []token  `xml:"request"`
}

// view says how much of a ticket a reader may see.
type view struct {
	full bool // a valid api_key: everything but contact details
	// key names the api_key of a full read in the audit log: the first
	// 8 hex digits of its SHA-256, never the key itself.
	key  string
	lang string
	net  *hotline.Network
	cat  *hotline.Catalogue
}

// render turns a ticket into its Open311 form. Contact details are never
// shown. Without a key, a sensitive category (or one no longer in the
// catalogue, which we cannot judge) shows no description, no media and only
// the committee's area instead of the exact place.
func (v view) render(t *hotline.Ticket) request {
	c, known := v.cat.Find(t.ServiceCode)
	if !known {
		c = hotline.Category{Code: t.ServiceCode, Sensitive: true}
	}
	var s *hotline.Ticket
	if v.full {
		cp := *t
		cp.Contact = hotline.Contact{}
		s = &cp
	} else {
		s = hotline.PublicTicket(t, c)
	}

	r := request{
		ServiceRequestID:  s.ID,
		Status:            "open",
		StatusNotes:       optional(s.StatusNotes),
		ServiceCode:       s.ServiceCode,
		RequestedDatetime: timestamp(s.CreatedAt),
		MediaURL:          optional(s.MediaURL),
	}
	if !s.Status.Open() {
		r.Status = "closed"
	}
	if known {
		r.ServiceName = optional(c.Name(v.lang))
	}
	if !s.UpdatedAt.IsZero() {
		u := timestamp(s.UpdatedAt)
		r.UpdatedDatetime = &u
	}
	if !v.full {
		// Free text written by residents and staff alike may carry a
		// phone number; the public never sees one.
		r.Description = optional(redactNumbers(s.Description))
		r.StatusNotes = optional(redactNumbers(s.StatusNotes))
	} else {
		r.Description = optional(s.Description)
	}
	if u, ok := v.net.Unit(s.UnitID); ok {
		r.AgencyResponsible = optional(u.Name(v.lang))
	}
	if s.Status.Open() {
		r.ServiceNotice = optional(notice(v.net, s.UnitID, v.lang))
	}

	if s.Location.HasPoint() {
		lat, long := s.Location.Lat, s.Location.Long
		r.Lat, r.Long = &lat, &long
	}
	r.Address = optional(s.Location.Address)
	if !v.full && c.Sensitive {
		// Only the area: the committee's name and its office's point,
		// which is public and says nothing about the resident's door.
		if u, ok := v.net.Unit(s.Location.Committee); ok {
			if v.lang == "en" {
				r.Address = optional("area of " + u.Name("en"))
			} else {
				r.Address = optional(u.NameZH + "辖区")
			}
			if u.Lat != 0 || u.Long != 0 {
				lat, long := u.Lat, u.Long
				r.Lat, r.Long = &lat, &long
			}
		}
	}
	return r
}

// notice tells the reader who will act on the request.
func notice(n *hotline.Network, unitID, lang string) string {
	u, ok := n.Unit(unitID)
	switch {
	case !ok && lang == "en":
		return "Received; the street service center will assign it shortly."
	case !ok:
		return "已受理，街道服务中心将尽快分派。"
	case lang == "en":
		return "Received; " + u.Name("en") + " will handle it."
	}
	return "已受理，由" + u.NameZH + "处理。"
}

// numberRun finds runs of seven or more digits (ASCII or full-width, with
// spaces or hyphens between), which in a free-text description are phone
// numbers residents typed; house numbers and room numbers are shorter.
var numberRun = regexp.MustCompile(`[+＋]?[0-9０-９](?:[ \-－]?[0-9０-９]){6,}`)

// redactNumbers hides phone-like numbers from public descriptions: contact
// data must not leak even when a resident types it into the wrong field.
func redactNumbers(s string) string {
	return numberRun.ReplaceAllString(s, "[号码已隐去]")
}

func timestamp(t time.Time) string {
	return t.In(shanghai).Format(time.RFC3339)
}

// readerView checks the optional api_key of a GET. A key that is given but
// wrong is refused rather than silently ignored, so a misconfigured client
// notices at once that it is not seeing full data.
func (h *Handler) readerView(r *http.Request, q url.Values) (view, error) {
	net, cat := h.directory()
	v := view{lang: locale(r, q.Get("locale")), net: net, cat: cat}
	if k := q.Get("api_key"); k != "" {
		if !h.validKey(k) {
			return v, hotline.Errorf(hotline.EFORBIDDEN, "invalid api_key; leave it out to read public data")
		}
		v.full = true
		sum := sha256.Sum256([]byte(k))
		v.key = hex.EncodeToString(sum[:4])
	}
	return v, nil
}

// recordFull records a keyed read of tickets that shows a resident's
// address or recording (a sensitive category's are hidden from everyone
// else), before the answer is written: one entry naming the ticket for a
// single request, one with the count and the query (less the key) for a
// list. Contact details are never shown here, so never recorded.
func (h *Handler) recordFull(r *http.Request, v view, q url.Values, tickets []*hotline.Ticket, single bool) error {
	if !v.full || h.Audit == nil {
		return nil
	}
	var address, media bool
	for _, t := range tickets {
		address = address || t.Location.Address != ""
		media = media || t.MediaURL != ""
	}
	var fields []string
	if address {
		fields = append(fields, hotline.AuditAddress)
	}
	if media {
		fields = append(fields, hotline.AuditRecording)
	}
	if len(fields) == 0 {
		return nil
	}
	e := &hotline.AuditEntry{UserID: "open311:" + v.key, Username: "Open311 api_key " + v.key,
		Fields: fields, Via: "GET " + r.URL.Path}
	if single {
		e.TicketID = tickets[0].ID
	} else {
		rest := url.Values{}
		for k, vs := range q {
			if k != "api_key" {
				rest[k] = vs
			}
		}
		e.Count, e.Filter = len(tickets), rest.Encode()
	}
	return h.Audit.RecordRead(r.Context(), e)
}

func (h *Handler) readPreamble(r *http.Request) (url.Values, view, error) {
	q := r.URL.Query()
	if err := h.allow(r, "read", readLimit); err != nil {
		return q, view{}, err
	}
	if err := h.checkJurisdiction(q.Get("jurisdiction_id")); err != nil {
		return q, view{}, err
	}
	v, err := h.readerView(r, q)
	return q, v, err
}

func (h *Handler) handleRequestList(w http.ResponseWriter, r *http.Request, f format) {
	q, v, err := h.readPreamble(r)
	if err != nil {
		h.fail(w, r, f, err)
		return
	}
	filter, err := parseFilter(q, time.Now())
	if err != nil {
		h.fail(w, r, f, err)
		return
	}
	list := []request{}
	if filter.Limit > 0 {
		tickets, _, err := h.Tickets.FindTickets(r.Context(), filter)
		if err != nil {
			h.fail(w, r, f, err)
			return
		}
		if err := h.recordFull(r, v, q, tickets, false); err != nil {
			h.fail(w, r, f, err)
			return
		}
		for _, t := range tickets {
			list = append(list, v.render(t))
		}
	}
	h.write(w, f, http.StatusOK, list, requestsXML{Requests: list})
}

// parseFilter reads the spec's query parameters. service_request_id
// overrides every other one. Without dates the window is the last 90 days;
// with one date it is the 90 days after start_date or before end_date; with
// both it may not span more than 90 days. At most 1000 come back, newest
// first. A zero Limit means nothing can match.
func parseFilter(q url.Values, now time.Time) (hotline.TicketFilter, error) {
	f := hotline.TicketFilter{Limit: maxIDs}
	if raw := q.Get("service_request_id"); raw != "" {
		seen := map[string]bool{}
		for _, id := range strings.Split(raw, ",") {
			id = strings.TrimSpace(id)
			// A mistyped id cannot match; leaving it out spares the store.
			if hotline.ValidTicketID(id) && !seen[id] {
				seen[id] = true
				f.IDs = append(f.IDs, id)
			}
		}
		if len(seen) > maxIDs {
			return f, hotline.Errorf(hotline.EINVALID, "service_request_id: at most %d ids at once", maxIDs)
		}
		f.Limit = len(f.IDs)
		return f, nil
	}

	f.ServiceCode = strings.TrimSpace(q.Get("service_code"))
	if raw := q.Get("status"); raw != "" {
		var open, closed bool
		for _, s := range strings.Split(raw, ",") {
			switch strings.ToLower(strings.TrimSpace(s)) {
			case "open":
				open = true
			case "closed":
				closed = true
			default:
				return f, hotline.Errorf(hotline.EINVALID, "status: use open, closed or open,closed")
			}
		}
		if open != closed {
			for _, s := range hotline.Statuses {
				if s.Open() == open {
					f.Statuses = append(f.Statuses, s)
				}
			}
		}
	}

	start, _, err := parseDate(q.Get("start_date"))
	if err != nil {
		return f, hotline.Errorf(hotline.EINVALID, "start_date: %v", err)
	}
	end, endStep, err := parseDate(q.Get("end_date"))
	if err != nil {
		return f, hotline.Errorf(hotline.EINVALID, "end_date: %v", err)
	}
	switch {
	case start.IsZero() && end.IsZero():
		f.From = now.Add(-window90)
	case end.IsZero():
		f.From, f.To = start, start.Add(window90)
	case start.IsZero():
		// end_date is inclusive: a date means the whole day, a time
		// means up to the end of its last written unit.
		f.To = end.Add(endStep)
		f.From = f.To.Add(-window90)
	default:
		f.From, f.To = start, end.Add(endStep)
		if f.To.Before(f.From) || f.To.Equal(f.From) {
			return f, hotline.Errorf(hotline.EINVALID, "end_date must be after start_date")
		}
		if end.Sub(start) > window90 {
			return f, hotline.Errorf(hotline.EINVALID, "start_date and end_date may not span more than 90 days; ask for a shorter range")
		}
	}
	return f, nil
}

// dateLayouts are the W3C datetime profiles (www.w3.org/TR/NOTE-datetime)
// the spec names, each with the step that makes an end date inclusive.
// Times without a zone are read as Shanghai time.
var dateLayouts = []struct {
	layout string
	step   time.Duration
}{
	{time.RFC3339Nano, time.Millisecond},
	{"2006-01-02T15:04:05Z07:00", time.Second},
	{"2006-01-02T15:04Z07:00", time.Minute},
	{"2006-01-02T15:04:05.999999999", time.Millisecond},
	{"2006-01-02T15:04:05", time.Second},
	{"2006-01-02T15:04", time.Minute},
	{"2006-01-02", 24 * time.Hour},
}

func parseDate(s string) (time.Time, time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, 0, nil
	}
	// A '+' in a query string decodes to a space; put it back so that
	// 2024-05-01T00:00:00+08:00 works even when the client did not escape it.
	s = strings.Replace(s, " ", "+", 1)
	if len(s) <= 40 {
		for _, l := range dateLayouts {
			if t, err := time.ParseInLocation(l.layout, s, shanghai); err == nil {
				if t.Year() < 2000 || t.Year() > 9999 {
					break
				}
				return t, l.step, nil
			}
		}
	}
	return time.Time{}, 0, errors.New("not a W3C datetime; use a form like 2024-05-01T00:00:00+08:00 or 2024-05-01")
}

func (h *Handler) handleRequestGet(w http.ResponseWriter, r *http.Request, f format, id string) {
	q, v, err := h.readPreamble(r)
	if err != nil {
		h.fail(w, r, f, err)
		return
	}
	t, err := h.findTicket(r, id)
	if err != nil {
		h.fail(w, r, f, err)
		return
	}
	if err := h.recordFull(r, v, q, []*hotline.Ticket{t}, true); err != nil {
		h.fail(w, r, f, err)
		return
	}
	list := []request{v.render(t)}
	h.write(w, f, http.StatusOK, list, requestsXML{Requests: list})
}

func (h *Handler) handleTokenGet(w http.ResponseWriter, r *http.Request, f format, tok string) {
	_, _, err := h.readPreamble(r)
	if err != nil {
		h.fail(w, r, f, err)
		return
	}
	t, err := h.findTicket(r, tok)
	if err != nil {
		h.fail(w, r, f, err)
		return
	}
	list := []token{{ServiceRequestID: t.ID, Token: t.ID}}
	h.write(w, f, http.StatusOK, list, tokensXML{Requests: list})
}

// findTicket looks up an id the client sent. A malformed id is answered
// like an unknown one without asking the store.
func (h *Handler) findTicket(r *http.Request, id string) (*hotline.Ticket, error) {
	notFound := hotline.Errorf(hotline.ENOTFOUND, "no request with id %q", clip(id, 32))
	if !hotline.ValidTicketID(id) {
		return nil, notFound
	}
	t, err := h.Tickets.FindTicket(r.Context(), id)
	if hotline.ErrorCode(err) == hotline.ENOTFOUND {
		return nil, notFound
	}
	return t, err
}

func (h *Handler) handleRequestCreate(w http.ResponseWriter, r *http.Request, f format) {
	if err := h.allow(r, "write", writeLimit); err != nil {
		h.fail(w, r, f, err)
		return
	}
	form, err := readForm(w, r)
	if err != nil {
		h.fail(w, r, f, err)
		return
	}
	if err := h.checkJurisdiction(form.Get("jurisdiction_id")); err != nil {
		h.fail(w, r, f, err)
		return
	}
	if k := form.Get("api_key"); k == "" {
		h.fail(w, r, f, hotline.Errorf(hotline.EUNAUTHORIZED, "api_key is required to create a request"))
		return
	} else if !h.validKey(k) {
		h.fail(w, r, f, hotline.Errorf(hotline.EFORBIDDEN, "invalid api_key"))
		return
	}

	sub, err := submission(form)
	if err != nil {
		h.fail(w, r, f, err)
		return
	}
	sub.Language = locale(r, form.Get("locale"))
	if h.Intake == nil {
		h.fail(w, r, f, hotline.Internal(errors.New("open311: no intake service configured")))
		return
	}
	t, isNew, err := h.Intake.Submit(r.Context(), sub, r.Header.Get("Idempotency-Key"))
	if err != nil {
		h.fail(w, r, f, err)
		return
	}
	net, _ := h.directory()
	list := []created{{
		ServiceRequestID: t.ID,
		Token:            t.ID,
		ServiceNotice:    optional(notice(net, t.UnitID, sub.Language)),
	}}
	status := http.StatusOK
	if isNew {
		status = http.StatusCreated
	}
	h.write(w, f, status, list, createdXML{Requests: list})
}

// submission maps the spec's POST fields onto an intake submission. The
// spec's required fields are checked here; intake checks the rest.
func submission(form url.Values) (intake.Submission, error) {
	fe := hotline.FieldErrors{}
	sub := intake.Submission{
		Channel:     hotline.ChannelOpen311,
		ServiceCode: strings.TrimSpace(form.Get("service_code")),
		Description: form.Get("description"),
		Address:     form.Get("address_string"),
		Phone:       form.Get("phone"),
		FirstName:   form.Get("first_name"),
		LastName:    form.Get("last_name"),
		Email:       form.Get("email"),
		MediaURL:    form.Get("media_url"),
		Actor:       "open311",
	}
	if sub.ServiceCode == "" {
		fe.Add("service_code", "required; choose one from services.json")
	}
	// The street has no master address repository, so an address_id can
	// only be kept as a typed address for a dispatcher to read.
	if strings.TrimSpace(sub.Address) == "" {
		sub.Address = form.Get("address_id")
	}
	for _, p := range []struct {
		name string
		dst  **float64
	}{{"lat", &sub.Lat}, {"long", &sub.Long}} {
		raw := strings.TrimSpace(form.Get(p.name))
		if raw == "" {
			continue
		}
		x, err := strconv.ParseFloat(raw, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			fe.Add(p.name, "must be a decimal number in WGS84 degrees, like 31.2365")
			continue
		}
		*p.dst = &x
	}
	hasPoint := strings.TrimSpace(form.Get("lat")) != "" && strings.TrimSpace(form.Get("long")) != ""
	if !hasPoint && strings.TrimSpace(sub.Address) == "" {
		fe.Add("location", "give lat and long, address_string or address_id")
	}
	// consent is our extension: the spec has no field for it, and the
	// resident's agreement to be called back must be explicit.
	if c := form.Get("consent"); c != "" {
		b, err := strconv.ParseBool(c)
		if err != nil {
			fe.Add("consent", "use true or false")
		}
		sub.Consent = b
	}
	return sub, fe.Err()
}

// readForm reads a POST body, form-encoded as the spec says, multipart, or
// a JSON object with the same field names. Query parameters count too
// (some clients send everything there); body fields win. Bodies over
// MaxBodyBytes are refused with 413.
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	form := r.URL.Query()
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if r.Header.Get("Content-Type") == "" {
		ct, err = "application/x-www-form-urlencoded", nil
	}
	if err != nil {
		return nil, hotline.Errorf(hotline.EINVALID, "unreadable Content-Type; send application/x-www-form-urlencoded or application/json")
	}
	var body url.Values
	switch ct {
	case "application/x-www-form-urlencoded":
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, bodyErr(err)
		}
		body, err = url.ParseQuery(string(b))
		if err != nil {
			return nil, hotline.Errorf(hotline.EINVALID, "the form body is not valid URL encoding")
		}
	case "multipart/form-data":
		if err := r.ParseMultipartForm(MaxBodyBytes); err != nil {
			return nil, bodyErr(err)
		}
		if r.MultipartForm != nil {
			body = url.Values(r.MultipartForm.Value)
			_ = r.MultipartForm.RemoveAll()
		}
	case "application/json":
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, bodyErr(err)
		}
		if body, err = jsonForm(b); err != nil {
			return nil, err
		}
	default:
		return nil, hotline.Errorf(hotline.EINVALID, "unsupported Content-Type %q; send application/x-www-form-urlencoded or application/json", clip(ct, 64))
	}
	for k, vs := range body {
		form[k] = vs
	}
	return form, nil
}

func bodyErr(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &hotline.Error{Code: hotline.EINVALID, Message: fmt.Sprintf("request body too large; the limit is %d KiB", MaxBodyBytes>>10), Err: errTooLarge}
	}
	return hotline.Errorf(hotline.EINVALID, "could not read the request body")
}

// errTooLarge marks an EINVALID error that is answered with 413.
var errTooLarge = errors.New("body too large")

// jsonForm flattens a JSON object of strings, numbers and booleans into
// form values, so one code path validates both encodings.
func jsonForm(b []byte) (url.Values, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || dec.More() {
		return nil, hotline.Errorf(hotline.EINVALID, "the body is not a JSON object; send {\"service_code\": \"...\", ...}")
	}
	out := url.Values{}
	fe := hotline.FieldErrors{}
	for k, v := range m {
		switch x := v.(type) {
		case nil:
		case string:
			out.Set(k, x)
		case json.Number:
			out.Set(k, x.String())
		case bool:
			out.Set(k, strconv.FormatBool(x))
		default:
			fe.Add(clip(k, 32), "must be a string, number or boolean")
		}
	}
	return out, fe.Err()
}
