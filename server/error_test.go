package server_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/server"
)

func TestErrorStatus(t *testing.T) {
	for code, want := range map[string]int{
		hotline.EINVALID: 400, hotline.EUNAUTHORIZED: 401, hotline.EFORBIDDEN: 403, hotline.ENOTFOUND: 404,
		hotline.ECONFLICT: 409, hotline.ETOOMANY: 429, hotline.EUNAVAILABLE: 503, hotline.EINTERNAL: 500,
		"something new": 500,
	} {
		if got := server.ErrorStatus(code); got != want {
			t.Errorf("ErrorStatus(%q) = %d, want %d", code, got, want)
		}
	}
}

func TestError(t *testing.T) {
	for _, tt := range []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
		wantMsg    string
		wantFields map[string]string
	}{
		{"invalid with fields", hotline.FieldErrors{"phone": "not a valid phone number"}.Err(), 400, "invalid",
			"some fields need attention", map[string]string{"phone": "not a valid phone number"}},
		{"conflict", hotline.Errorf(hotline.ECONFLICT, "changed meanwhile"), 409, "conflict", "changed meanwhile", nil},
		{"internal keeps its detail", hotline.Internal(errors.New("redis said 13812345678")), 500, "internal", "internal error", nil},
		{"plain error is internal", errors.New("oops"), 500, "internal", "internal error", nil},
		{"too many", &hotline.Error{Code: hotline.ETOOMANY, Message: "slow down"}, 429, "too_many", "slow down", nil},
		{"body too large", &http.MaxBytesError{Limit: 10}, 413, "invalid", "request body is larger than 10 bytes", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			server.Error(rec, httptest.NewRequest("GET", "/", nil), tt.err)
			if rec.Code != tt.wantStatus {
				t.Errorf("status %d, want %d", rec.Code, tt.wantStatus)
			}
			var got struct {
				Code   string            `json:"code"`
				Error  string            `json:"error"`
				Fields map[string]string `json:"fields"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if got.Code != tt.wantCode || got.Error != tt.wantMsg || len(got.Fields) != len(tt.wantFields) {
				t.Errorf("got %+v, want %s %q %v", got, tt.wantCode, tt.wantMsg, tt.wantFields)
			}
			for k, v := range tt.wantFields {
				if got.Fields[k] != v {
					t.Errorf("field %s: %q, want %q", k, got.Fields[k], v)
				}
			}
			if tt.wantStatus == 429 && rec.Header().Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		})
	}
}
