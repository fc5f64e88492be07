package config_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/config"
)

// The example file documents every key with its default: loading it must
// give exactly the defaults, and it must name every key the struct has.
func TestExampleFileIsTheDefaults(t *testing.T) {
	got, err := config.Load("../config.example.toml", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := config.Default()
	if !reflect.DeepEqual(normalise(got), normalise(want)) {
		t.Fatalf("example differs from defaults:\n got %+v\nwant %+v", got, want)
	}
}

// Lists decode as empty slices from the file and nil from the defaults.
func normalise(c config.Config) config.Config {
	for _, s := range []*[]string{&c.Redis.SentinelAddrs, &c.Redis.ClusterAddrs, &c.Open311.APIKeys,
		&c.Dispatch.Holidays, &c.Dispatch.Workdays} {
		if len(*s) == 0 {
			*s = nil
		}
	}
	if len(c.Dispatch.Categories) == 0 {
		c.Dispatch.Categories = nil
	}
	return c
}

func TestEnvironmentOverridesFile(t *testing.T) {
	got, err := config.Load("../config.example.toml", []string{
		"HOTLINE_REDIS_URL=redis://127.0.0.1:6390/2",
		"HOTLINE_OPEN311_API_KEYS=aaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbb",
		"HOTLINE_HTTP_SESSION_TTL=2h",
		"HOTLINE_HTTP_TRUST_PROXY_HEADERS=true",
		"HOTLINE_HTTP_PUBLIC_RATE_PER_MINUTE=99",
		"PATH=/bin",
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Redis.URL != "redis://127.0.0.1:6390/2" || !got.Redis.Configured() {
		t.Errorf("redis url = %q", got.Redis.URL)
	}
	if want := []string{"aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"}; !reflect.DeepEqual(got.Open311.APIKeys, want) {
		t.Errorf("api keys = %q, want %q", got.Open311.APIKeys, want)
	}
	if got.HTTP.SessionTTL.Duration != 2*time.Hour || !got.HTTP.TrustProxyHeaders || got.HTTP.PublicRatePerMinute != 99 {
		t.Errorf("http = %+v", got.HTTP)
	}
}

func TestBadConfigIsRefusedClearly(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct {
		file string
		env  []string
	}{
		"unknown key":       {file: "[http]\nadress = \":80\"\n"},
		"bad toml":          {file: "[http\n"},
		"bad duration env":  {env: []string{"HOTLINE_HTTP_SESSION_TTL=soon"}},
		"bad number env":    {env: []string{"HOTLINE_HTTP_MAX_BODY_BYTES=lots"}},
		"two redis kinds":   {file: "[redis]\nurl = \"redis://x\"\ncluster_addrs = [\"a:1\"]\n"},
		"short api key":     {file: "[open311]\napi_keys = [\"short\"]\n"},
		"sentinel half set": {file: "[redis]\nsentinel_master = \"m\"\n"},
		"bad log level":     {env: []string{"HOTLINE_LOG_LEVEL=loud"}},
		"bad working hours": {env: []string{"HOTLINE_DISPATCH_WORKING_HOURS=whenever"}},
		"bad accept limit":  {file: "[dispatch.limits]\naccept = \"soon\"\n"},
		"bad voice hours":   {env: []string{"HOTLINE_TWILIO_VOICE_HOURS=always-ish"}},
		"bad simulator":     {env: []string{"HOTLINE_TWILIO_SIMULATOR=maybe"}},
		"account, no token": {env: []string{"HOTLINE_TWILIO_ACCOUNT_SID=AC123", "HOTLINE_TWILIO_PUBLIC_URL=https://x", "HOTLINE_TWILIO_FROM_NUMBER=+8621000"}},
		"account, no url":   {env: []string{"HOTLINE_TWILIO_ACCOUNT_SID=AC123", "HOTLINE_TWILIO_AUTH_TOKEN=t", "HOTLINE_TWILIO_FROM_NUMBER=+8621000"}},
		"account, no from":  {env: []string{"HOTLINE_TWILIO_ACCOUNT_SID=AC123", "HOTLINE_TWILIO_AUTH_TOKEN=t", "HOTLINE_TWILIO_PUBLIC_URL=https://x"}},
	} {
		t.Run(name, func(t *testing.T) {
			path := ""
			if tc.file != "" {
				path = filepath.Join(dir, "c.toml")
				if err := os.WriteFile(path, []byte(tc.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, err := config.Load(path, tc.env)
			if got := hotline.ErrorCode(err); got != hotline.EINVALID {
				t.Fatalf("code = %q (%v), want invalid", got, err)
			}
		})
	}
}

func FuzzLoad(f *testing.F) {
	f.Add("[http]\naddr = \":1\"\n")
	f.Add("[redis]\nurl = 3\n")
	f.Add("[[x]]")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, body string) {
		path := filepath.Join(dir, "f.toml")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := config.Load(path, nil)
		if err != nil && hotline.ErrorCode(err) != hotline.EINVALID {
			t.Fatalf("code = %q for %q", hotline.ErrorCode(err), body)
		}
	})
}
