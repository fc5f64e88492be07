package server_test

import (
	"context"
	"errors"
	"testing"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/intake"
	"github.com/caojiadu/hotline/server"
)

// downAudit is an audit log whose store cannot be reached.
type downAudit struct{}

func (downAudit) RecordRead(context.Context, *hotline.AuditEntry) error {
	return hotline.Unavailable(errors.New("connection refused"))
}

func (downAudit) FindReads(context.Context, hotline.AuditFilter) ([]*hotline.AuditEntry, bool, error) {
	return nil, false, hotline.Unavailable(errors.New("connection refused"))
}

// A disclosure that cannot be recorded is not made: with the audit log
// down (or none configured) the details in full are refused, while the
// masked views work on.
func TestContact_RefusedUnrecorded(t *testing.T) {
	for name, audit := range map[string]hotline.AuditLog{"audit log down": downAudit{}, "no audit log": nil} {
		t.Run(name, func(t *testing.T) {
			ts := MustOpenServer(t, func(s *server.Server) { s.Audit = audit })
			ts.MustCreateUser(t, "c01staff", "c01-pw-123", hotline.RoleCommittee, "c01")
			sess := ts.MustLogin(t, "c01staff", "c01-pw-123")
			lat, long := ts.PointIn(t, "c01")
			tk := ts.MustSubmit(t, intake.Submission{ServiceCode: "facilities", Description: "楼道灯坏了",
				Lat: &lat, Long: &long, Address: "长寿路 100 号 3 室", Phone: "13812345678", Email: "zhang@example.com", Consent: true})
			Run(t, ts, []Scenario{
				{Name: "the details in full", URL: "/api/v1/tickets/" + tk.ID + "/contact", Session: sess, ExpectedStatus: 503,
					NotExpectedContent: []string{"13812345678", "100 号", "zhang@"}},
				{Name: "the masked view", URL: "/api/v1/tickets/" + tk.ID, Session: sess, ExpectedStatus: 200,
					ExpectedContent:    []string{`"phone":"138****5678"`, `"address":"长寿路 ***"`, `"email":"z***@example.com"`},
					NotExpectedContent: []string{"13812345678", "100 号", "zhang@"}},
				{Name: "the list", URL: "/api/v1/tickets", Session: sess, ExpectedStatus: 200,
					ExpectedContent:    []string{`"id":"` + tk.ID + `"`, `"address":"长寿路 ***"`},
					NotExpectedContent: []string{"13812345678", "100 号", "zhang@"}},
			})
		})
	}
}
