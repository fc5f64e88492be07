package hotline

import (
	"context"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// What an audit entry says was shown in full. The board and every list
// show these masked (MaskPhone, MaskAddress, MaskEmail; a recording only as
// "there is one"); showing one in full is a disclosure and is recorded.
const (
	AuditPhone     = "phone"
	AuditAddress   = "address"
	AuditEmail     = "email"
	AuditRecording = "recording" // the ticket's MediaURL: a call recording or a photo
)

// AuditEntry records one disclosure of a resident's personal details in
// full: who saw what of which ticket, when, and through which door. A masked
// view is not a disclosure and is never recorded as one.
type AuditEntry struct {
	// ID is assigned by AuditLog.RecordRead.
	ID string    `json:"id"`
	At time.Time `json:"at"`
	// UserID, Username, Role and UnitID are the reader as they were at the
	// time. A volunteer told a resident's contact by SMS has no account
	// behind them necessarily: UserID is then "volunteer:" and their id.
	UserID   string `json:"user_id"`
	Username string `json:"username"`
	Role     Role   `json:"role"`
	UnitID   string `json:"unit_id,omitempty"`
	// TicketID is the ticket read; empty for an export of many records.
	TicketID string `json:"ticket_id,omitempty"`
	// Fields lists what was shown in full: AuditPhone, AuditAddress, …
	Fields []string `json:"fields"`
	// Via is the door: an API route ("GET /api/v1/tickets/{id}/contact")
	// or another channel ("sms:task-contact").
	Via string `json:"via"`
	// Count and Filter describe an export: how many records it held and
	// the query that chose them.
	Count  int    `json:"count,omitempty"`
	Filter string `json:"filter,omitempty"`
}

// AuditFilter selects audit entries. Zero fields do not filter.
type AuditFilter struct {
	TicketID string
	UserID   string
	From, To time.Time // At in [From, To)
	Limit    int       // 0 means the log's default (200); capped at 1000
}

// AuditLog keeps the record of personal-data disclosures.
type AuditLog interface {
	// RecordRead appends e, setting e.ID (and e.At when zero). Callers
	// record before they show anything: a disclosure that cannot be
	// recorded does not happen. Errors: EINVALID, EUNAVAILABLE.
	RecordRead(ctx context.Context, e *AuditEntry) error
	// FindReads returns the entries f selects, newest first, and whether
	// more matched than Limit. Errors: EINVALID (a period too long to
	// scan), EUNAVAILABLE.
	FindReads(ctx context.Context, f AuditFilter) (entries []*AuditEntry, more bool, err error)
}

// roadWords end the part of a Chinese address that names the road; what
// follows (lane, number, building, room) is the door.
var roadWords = []string{"路", "街", "巷", "大道"}

// MaskAddress shows an address the way the board may: the road kept, the
// door hidden, so a screen or a screenshot tells where in the street but
// not where the resident lives:
//
//	长寿路 100 号 3 室   → 长寿路 ***
//	长寿路123弄4号        → 长寿路***
//	100 Changshou Road   → *** Changshou Road  (no road word: numbers hidden)
//	曹家渡花苑            → 曹家***             (neither: the first third kept)
//
// An empty address stays empty.
func MaskAddress(a string) string {
	a = strings.TrimSpace(a)
	if a == "" {
		return ""
	}
	cut := -1
	for _, w := range roadWords {
		if i := strings.Index(a, w); i > 0 && (cut < 0 || i+len(w) < cut) {
			cut = i + len(w)
		}
	}
	if cut > 0 {
		// A road's name may hold a numeral (四川北路); only digits are
		// hidden in it.
		head, rest := maskDigits(a[:cut], false), a[cut:]
		if strings.TrimSpace(rest) == "" {
			return head
		}
		if strings.HasPrefix(rest, " ") {
			return head + " ***"
		}
		return head + "***"
	}
	if m := maskDigits(a, true); m != a {
		return m
	}
	n := utf8.RuneCountInString(a)
	r := []rune(a)
	return string(r[:max(1, n/3)]) + "***"
}

// maskDigits replaces every run of digits (ASCII, full-width and, with
// numerals, Chinese numerals: 三号楼) with "***".
func maskDigits(s string, numerals bool) string {
	var b strings.Builder
	in := false
	for _, r := range s {
		if unicode.IsDigit(r) || numerals && strings.ContainsRune("〇一二三四五六七八九十百千零", r) {
			if !in {
				b.WriteString("***")
			}
			in = true
			continue
		}
		in = false
		b.WriteRune(r)
	}
	return b.String()
}

// MaskEmail keeps the first character and the domain:
// zhang.san@example.com → z***@example.com.
func MaskEmail(e string) string {
	e = strings.TrimSpace(e)
	if e == "" {
		return ""
	}
	at := strings.LastIndexByte(e, '@')
	if at <= 0 {
		return "***"
	}
	r, _ := utf8.DecodeRuneInString(e)
	return string(r) + "***" + e[at:]
}
