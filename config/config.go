// Package config reads the hotline's configuration: one nested struct that
// mirrors config.example.toml key for key. Every key can be overridden by an
// environment variable HOTLINE_<SECTION>_<KEY> (upper case), e.g.
// HOTLINE_REDIS_URL or HOTLINE_OPEN311_API_KEYS (lists are comma-separated),
// so secrets never have to live in the file.
package config

import (
	"encoding"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/robfig/cron/v3"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/dispatch"
)

// Config is the whole configuration. Field order and comments follow
// config.example.toml; a test keeps the two in step.
type Config struct {
	HTTP      HTTP            `toml:"http"`
	Redis     Redis           `toml:"redis"`
	Embedded  Embedded        `toml:"embedded"`
	Open311   Open311         `toml:"open311"`
	Twilio    Twilio          `toml:"twilio"`
	Network   Network         `toml:"network"`
	Catalogue Catalogue       `toml:"catalogue"`
	Dispatch  dispatch.Config `toml:"dispatch"`
	Projects  Projects        `toml:"projects"`
	Retention Retention       `toml:"retention"`
	Log       Log             `toml:"log"`
}

type HTTP struct {
	Addr                string   `toml:"addr"`
	PublicURL           string   `toml:"public_url"`
	MaxBodyBytes        int64    `toml:"max_body_bytes"`
	PublicRatePerMinute int      `toml:"public_rate_per_minute"`
	LoginRatePerMinute  int      `toml:"login_rate_per_minute"`
	SessionTTL          Duration `toml:"session_ttl"`
	TrustProxyHeaders   bool     `toml:"trust_proxy_headers"`
	ShutdownTimeout     Duration `toml:"shutdown_timeout"`
	DebugAddr           string   `toml:"debug_addr"`
}

type Redis struct {
	URL            string   `toml:"url"`
	SentinelMaster string   `toml:"sentinel_master"`
	SentinelAddrs  []string `toml:"sentinel_addrs"`
	ClusterAddrs   []string `toml:"cluster_addrs"`
	Username       string   `toml:"username"`
	Password       string   `toml:"password"`
	Prefix         string   `toml:"prefix"`
}

// Configured reports whether an external Redis is named; otherwise the
// embedded store is used.
func (r Redis) Configured() bool {
	return r.URL != "" || r.SentinelMaster != "" || len(r.ClusterAddrs) > 0
}

type Embedded struct {
	SnapshotInterval Duration `toml:"snapshot_interval"`
}

type Open311 struct {
	APIKeys      []string `toml:"api_keys"`
	Jurisdiction string   `toml:"jurisdiction_id"`
}

type Twilio struct {
	AccountSID          string `toml:"account_sid"`
	AuthToken           string `toml:"auth_token"`
	PublicURL           string `toml:"public_url"`
	FromNumber          string `toml:"from_number"`
	MessagingServiceSID string `toml:"messaging_service_sid"`
	VoiceHours          string `toml:"voice_hours"`
	VoiceZH             string `toml:"voice_zh"`
	VoiceEN             string `toml:"voice_en"`
	Simulator           string `toml:"simulator"`
	// JournalDir keeps the calls and messages taken while Redis is
	// unreachable until they are filed (phone.Journal); empty means
	// "phone-journal" under --data. JournalMaxBytes bounds it.
	JournalDir      string `toml:"journal_dir"`
	JournalMaxBytes int64  `toml:"journal_max_bytes"`
}

type Network struct {
	Units     string `toml:"units"`
	Areas     string `toml:"areas"`
	Gazetteer string `toml:"gazetteer"`
}

type Catalogue struct {
	File string `toml:"file"`
}

// Projects is the nightly grouping of needs into draft service projects
// (docs/projects.md). The grouping keys have the defaults of package
// grouping; a cmd test keeps the two in step.
type Projects struct {
	Enabled bool `toml:"enabled"`
	// Schedule is a standard cron spec (minute hour day-of-month month
	// day-of-week) on the Shanghai clock.
	Schedule string `toml:"schedule"`
	// Window is how far back the job reads tickets.
	Window            Window  `toml:"window"`
	Similarity        float64 `toml:"similarity"`
	NeighbourMetres   float64 `toml:"neighbour_metres"`
	MinMonths         int     `toml:"min_months"`
	MinResidents      int     `toml:"min_residents"`
	MinTickets        int     `toml:"min_tickets"`
	CostPerPersonTime float64 `toml:"cost_per_person_time"`
}

// Retention is how long finished tickets keep residents' personal details
// (docs/RETENTION.md): the sweep that erases them runs daily on Schedule,
// one replica at a time.
type Retention struct {
	// PersonalData is the period after a ticket's last change, once work
	// on it is over, at the end of which its personal details are erased.
	PersonalData Window `toml:"personal_data"`
	// Schedule is a standard cron spec on the Shanghai clock.
	Schedule string `toml:"schedule"`
}

type Log struct {
	Level  string `toml:"level"`
	Format string `toml:"format"`
}

// Duration is a time.Duration written as "30s", "12h" in TOML and env vars.
type Duration struct{ time.Duration }

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// Window is a span of time written in days ("365d") or as a Go duration
// ("720h"): windows of tickets are thought of in days.
type Window struct{ time.Duration }

// ParseWindow reads "365d", "1.5d" or any Go duration ("36h").
func ParseWindow(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(days, 64)
		if err != nil || n < 0 || n > 100*366 {
			return 0, fmt.Errorf("%q is not a number of days (e.g. \"365d\")", s)
		}
		return time.Duration(n * float64(24*time.Hour)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is neither days (\"365d\") nor a duration (\"720h\")", s)
	}
	return d, nil
}

func (w *Window) UnmarshalText(b []byte) error {
	d, err := ParseWindow(string(b))
	if err != nil {
		return err
	}
	w.Duration = d
	return nil
}

// MarshalText writes whole days as "365d".
func (w Window) MarshalText() ([]byte, error) {
	if w.Duration%(24*time.Hour) == 0 {
		return []byte(strconv.FormatInt(int64(w.Duration/(24*time.Hour)), 10) + "d"), nil
	}
	return []byte(w.Duration.String()), nil
}

// Default returns the configuration used when a key is not set anywhere.
func Default() Config {
	return Config{
		HTTP: HTTP{
			Addr:                ":8080",
			MaxBodyBytes:        64 << 10,
			PublicRatePerMinute: 30,
			LoginRatePerMinute:  10,
			SessionTTL:          Duration{12 * time.Hour},
			ShutdownTimeout:     Duration{15 * time.Second},
		},
		Redis:    Redis{Prefix: "hotline"},
		Embedded: Embedded{SnapshotInterval: Duration{10 * time.Second}},
		Open311:  Open311{Jurisdiction: "caojiadu.jingan.shanghai.cn"},
		Twilio:   Twilio{VoiceHours: "daily 08:00-20:00", VoiceZH: "Polly.Zhiyu", VoiceEN: "Polly.Joanna", Simulator: "auto", JournalMaxBytes: 64 << 20},
		Dispatch: dispatch.DefaultConfig(),
		Projects: Projects{Enabled: true, Schedule: "0 2 * * *", Window: Window{365 * 24 * time.Hour},
			Similarity: 0.25, NeighbourMetres: 1500, MinMonths: 3, MinResidents: 5, MinTickets: 3, CostPerPersonTime: 16.5},
		Retention: Retention{PersonalData: Window{365 * 24 * time.Hour}, Schedule: "30 3 * * *"},
		Log:       Log{Level: "info", Format: "text"},
	}
}

// Load reads path (when not empty) over the defaults, then applies the
// environment. An unknown key in the file is an error: a typo must not
// silently fall back to a default.
func Load(path string, environ []string) (Config, error) {
	c := Default()
	if path != "" {
		md, err := toml.DecodeFile(path, &c)
		if err != nil {
			return c, &hotline.Error{Code: hotline.EINVALID, Message: fmt.Sprintf("config %s: %v", path, err), Err: err}
		}
		if und := md.Undecoded(); len(und) > 0 {
			keys := make([]string, len(und))
			for i, k := range und {
				keys[i] = k.String()
			}
			return c, hotline.Errorf(hotline.EINVALID, "config %s: unknown keys %s", path, strings.Join(keys, ", "))
		}
	}
	if err := applyEnv(&c, environ); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// Validate checks what can be checked without touching the network.
func (c Config) Validate() error {
	fe := hotline.FieldErrors{}
	if c.HTTP.MaxBodyBytes < 1024 {
		fe.Add("http.max_body_bytes", "must be at least 1024")
	}
	if c.HTTP.PublicRatePerMinute < 1 {
		fe.Add("http.public_rate_per_minute", "must be at least 1")
	}
	if c.HTTP.LoginRatePerMinute < 1 {
		fe.Add("http.login_rate_per_minute", "must be at least 1")
	}
	if c.HTTP.SessionTTL.Duration < time.Minute {
		fe.Add("http.session_ttl", "must be at least 1m")
	}
	if c.HTTP.PublicURL != "" && !strings.HasPrefix(c.HTTP.PublicURL, "http://") && !strings.HasPrefix(c.HTTP.PublicURL, "https://") {
		fe.Add("http.public_url", "must start with http:// or https://")
	}
	n := 0
	if c.Redis.URL != "" {
		n++
	}
	if c.Redis.SentinelMaster != "" || len(c.Redis.SentinelAddrs) > 0 {
		n++
		if c.Redis.SentinelMaster == "" || len(c.Redis.SentinelAddrs) == 0 {
			fe.Add("redis.sentinel_master", "sentinel needs both sentinel_master and sentinel_addrs")
		}
	}
	if len(c.Redis.ClusterAddrs) > 0 {
		n++
	}
	if n > 1 {
		fe.Add("redis", "set only one of url, sentinel_master/sentinel_addrs, cluster_addrs")
	}
	if c.Redis.Prefix == "" || strings.ContainsAny(c.Redis.Prefix, "{} \t") {
		fe.Add("redis.prefix", "must be non-empty without braces or spaces")
	}
	if c.Embedded.SnapshotInterval.Duration < time.Second {
		fe.Add("embedded.snapshot_interval", "must be at least 1s")
	}
	for _, k := range c.Open311.APIKeys {
		if len(k) < 16 {
			fe.Add("open311.api_keys", "each key must be at least 16 characters")
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		fe.Add("log.level", "must be debug, info, warn or error")
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		fe.Add("log.format", "must be text or json")
	}
	if _, err := c.Dispatch.Compile(nil); err != nil {
		fe.Add("dispatch", hotline.ErrorMessage(err))
	}
	if _, err := dispatch.ParseHours(c.Twilio.VoiceHours); err != nil {
		fe.Add("twilio.voice_hours", hotline.ErrorMessage(err))
	}
	if c.Twilio.JournalMaxBytes < 1<<20 {
		fe.Add("twilio.journal_max_bytes", "must be at least 1048576 (1 MiB, a few thousand calls)")
	}
	switch c.Twilio.Simulator {
	case "auto", "on", "off":
	default:
		fe.Add("twilio.simulator", "must be auto, on or off")
	}
	if c.Twilio.AccountSID != "" {
		// A real account: Twilio must be able to reach us and we must be
		// able to check its signatures and to send.
		if c.Twilio.AuthToken == "" {
			fe.Add("twilio.auth_token", "is needed with an account_sid, to check webhook signatures and to send SMS (set HOTLINE_TWILIO_AUTH_TOKEN)")
		}
		if c.Twilio.PublicURL == "" {
			fe.Add("twilio.public_url", "is needed with an account_sid: the URL Twilio calls, against which signatures are checked")
		}
		if c.Twilio.FromNumber == "" && c.Twilio.MessagingServiceSID == "" {
			fe.Add("twilio.from_number", "is needed with an account_sid (or set messaging_service_sid): the sender of the hotline's SMS")
		}
	}
	c.Projects.validate(fe)
	c.Retention.validate(fe)
	if err := fe.Err(); err != nil {
		e := err.(*hotline.Error)
		e.Message = "configuration is not valid"
		return e
	}
	return nil
}

// validate adds the projects section's errors to fe.
func (p Projects) validate(fe hotline.FieldErrors) {
	if _, err := cron.ParseStandard(p.Schedule); err != nil {
		fe.Add("projects.schedule", fmt.Sprintf("%q is not a cron schedule: give minute hour day-of-month month day-of-week on the Shanghai clock, e.g. \"0 2 * * *\" for 02:00 every night (%v)", p.Schedule, err))
	}
	if p.Window.Duration < 24*time.Hour {
		fe.Add("projects.window", "must be at least 1d; the job groups needs that recur over months (365d reads a year)")
	}
	if !(p.Similarity > 0 && p.Similarity <= 1) {
		fe.Add("projects.similarity", "must be more than 0 and at most 1 (0.25: lower joins more different texts into one need)")
	}
	if !(p.NeighbourMetres >= 0) {
		fe.Add("projects.neighbour_metres", "must not be negative (metres between committee offices; 0 keeps committees apart)")
	}
	if p.MinMonths < 1 {
		fe.Add("projects.min_months", "must be at least 1")
	}
	if p.MinResidents < 1 {
		fe.Add("projects.min_residents", "must be at least 1")
	}
	if p.MinTickets < 1 {
		fe.Add("projects.min_tickets", "must be at least 1")
	}
	if !(p.CostPerPersonTime > 0) {
		fe.Add("projects.cost_per_person_time", "must be more than 0 yuan")
	}
}

// validate adds the retention section's errors to fe. The floor of 90
// days is retention.MinPeriod (config does not import the package, which
// pulls in grouping's dictionaries); a cmd test keeps the two in step.
func (r Retention) validate(fe hotline.FieldErrors) {
	if r.PersonalData.Duration < 90*24*time.Hour {
		given, _ := r.PersonalData.MarshalText()
		fe.Add("retention.personal_data", fmt.Sprintf("%s is too short: give at least 90d. Texts to residents and to their volunteers stay in the outbox 90 days, and residents rate, ask for a redo or complain for weeks after a ticket is done", given))
	}
	if _, err := cron.ParseStandard(r.Schedule); err != nil {
		fe.Add("retention.schedule", fmt.Sprintf("%q is not a cron schedule: give minute hour day-of-month month day-of-week on the Shanghai clock, e.g. \"30 3 * * *\" for 03:30 every night (%v)", r.Schedule, err))
	}
}

// applyEnv overrides fields from HOTLINE_<SECTION>_<KEY> variables.
func applyEnv(c *Config, environ []string) error {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "HOTLINE_") {
			env[k] = v
		}
	}
	root := reflect.ValueOf(c).Elem()
	for i := 0; i < root.NumField(); i++ {
		section := root.Type().Field(i).Tag.Get("toml")
		sv := root.Field(i)
		for j := 0; j < sv.NumField(); j++ {
			key := sv.Type().Field(j).Tag.Get("toml")
			name := "HOTLINE_" + strings.ToUpper(section) + "_" + strings.ToUpper(key)
			v, ok := env[name]
			if !ok {
				continue
			}
			if err := setField(sv.Field(j), v); err != nil {
				return hotline.Errorf(hotline.EINVALID, "environment %s: %v", name, err)
			}
		}
	}
	return nil
}

func setField(f reflect.Value, v string) error {
	if u, ok := f.Addr().Interface().(encoding.TextUnmarshaler); ok && f.Type() != reflect.TypeOf(Duration{}) {
		return u.UnmarshalText([]byte(v))
	}
	if f.Type() == reflect.TypeOf(Duration{}) {
		var d Duration
		if err := d.UnmarshalText([]byte(v)); err != nil {
			return err
		}
		f.Set(reflect.ValueOf(d))
		return nil
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(v)
	case reflect.Bool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("want true or false, got %q", v)
		}
		f.SetBool(b)
	case reflect.Float64:
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("want a number, got %q", v)
		}
		f.SetFloat(n)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("want a whole number, got %q", v)
		}
		f.SetInt(n)
	case reflect.Slice:
		var parts []string
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		f.Set(reflect.ValueOf(parts))
	default:
		return fmt.Errorf("unsupported type %s", f.Type())
	}
	return nil
}
