package open311_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/caojiadu/hotline"
)

// memAudit is an audit log in memory; down makes it unreachable.
type memAudit struct {
	mu      sync.Mutex
	entries []hotline.AuditEntry
	down    bool
}

func (m *memAudit) RecordRead(_ context.Context, e *hotline.AuditEntry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return hotline.Unavailable(errors.New("connection refused"))
	}
	e.ID = "a" + string(rune('0'+len(m.entries)))
	m.entries = append(m.entries, *e)
	return nil
}

func (m *memAudit) FindReads(context.Context, hotline.AuditFilter) ([]*hotline.AuditEntry, bool, error) {
	return nil, false, errors.New("not used")
}

// A partner system reading with a key sees sensitive tickets' addresses,
// which nobody else does: each such read is recorded under the key (never
// the key itself), and none is made that cannot be recorded. Public reads
// show nothing personal and are not recorded.
func TestKeyedReadsAreAudited(t *testing.T) {
	fx := MustFixture(t)
	audit := &memAudit{}
	fx.Handler.Audit = audit
	sum := sha256.Sum256([]byte(apiKey))
	reader := "open311:" + hex.EncodeToString(sum[:4])

	for _, u := range []string{"/open311/v2/requests/" + fx.Counsel.ID + ".json", "/open311/v2/requests.json"} {
		if w := fx.Do("GET", u, nil, nil); w.Code != http.StatusOK {
			t.Fatalf("public %s: %d", u, w.Code)
		}
	}
	if len(audit.entries) != 0 {
		t.Fatalf("public reads recorded: %+v", audit.entries)
	}

	w := fx.Do("GET", "/open311/v2/requests/"+fx.Counsel.ID+".json?api_key="+apiKey, nil, nil)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "叶家宅路36号5楼") {
		t.Fatalf("keyed read of the sensitive request: %d %s", w.Code, w.Body)
	}
	w = fx.Do("GET", "/open311/v2/requests.json?status=open&api_key="+apiKey, nil, nil)
	if w.Code != http.StatusOK {
		t.Fatalf("keyed list: %d %s", w.Code, w.Body)
	}
	if len(audit.entries) != 2 {
		t.Fatalf("entries %+v, want one per keyed read", audit.entries)
	}
	one, list := audit.entries[0], audit.entries[1]
	if one.UserID != reader || one.TicketID != fx.Counsel.ID || !slices.Equal(one.Fields, []string{hotline.AuditAddress}) ||
		one.Via != "GET /open311/v2/requests/"+fx.Counsel.ID+".json" {
		t.Errorf("single read recorded as %+v", one)
	}
	if list.UserID != reader || list.TicketID != "" || list.Count != 2 || list.Filter != "status=open" {
		t.Errorf("list recorded as %+v, want the 2 open requests and the query without the key", list)
	}
	for _, e := range audit.entries {
		if strings.Contains(e.Filter+e.Username+e.UserID, apiKey) {
			t.Errorf("the key itself is in the log: %+v", e)
		}
	}

	audit.down = true
	for _, u := range []string{"/open311/v2/requests/" + fx.Counsel.ID + ".json?api_key=" + apiKey, "/open311/v2/requests.json?api_key=" + apiKey} {
		w := fx.Do("GET", u, nil, nil)
		if w.Code != http.StatusServiceUnavailable || strings.Contains(w.Body.String(), "叶家宅路") {
			t.Errorf("%s with the log down: %d %s, want 503 and nothing shown", u, w.Code, w.Body)
		}
	}
	if w := fx.Do("GET", "/open311/v2/requests.json", nil, nil); w.Code != http.StatusOK {
		t.Errorf("a public read with the log down: %d", w.Code)
	}
}
