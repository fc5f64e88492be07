package phone

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twilio/twilio-go/twiml"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/intake"
)

// DefaultJournalMaxBytes bounds a journal directory: about 200,000 calls
// and messages of a few hundred bytes each, hours of a busy line's
// traffic, and far less than the disk of any machine that runs the line.
const DefaultJournalMaxBytes = 64 << 20

// Journal kinds.
const (
	JournalCall = "call"
	JournalSMS  = "sms"
)

// JournalEntry is a call or a message taken while the store could not be
// reached: who, when, and what was gathered so far. It holds a resident's
// number, so the journal's files are readable by the service's user only
// and are deleted once every entry is in the store.
type JournalEntry struct {
	Kind string    `json:"kind"` // JournalCall or JournalSMS
	At   time.Time `json:"at"`
	From string    `json:"from"` // E.164
	To   string    `json:"to,omitempty"`
	Lang string    `json:"lang,omitempty"`

	// A call: its sid, the step (or "status", "recording") that could not
	// be served, the final CallStatus when the status callback did not
	// get through, and what the caller had given by then.
	CallSid      string `json:"call_sid,omitempty"`
	Step         string `json:"step,omitempty"`
	CallStatus   string `json:"call_status,omitempty"`
	Category     string `json:"category,omitempty"`
	Committee    string `json:"committee,omitempty"`
	How          string `json:"how,omitempty"`
	Address      string `json:"address,omitempty"`
	Description  string `json:"description,omitempty"`
	RecordingURL string `json:"recording_url,omitempty"`

	// A message: its sid, text and first picture.
	MessageSid string `json:"message_sid,omitempty"`
	Body       string `json:"body,omitempty"`
	MediaURL   string `json:"media_url,omitempty"`
}

// Journal is an append-only record, on the local disk, of the calls and
// messages the line took while Redis could not be reached, so that nobody
// who was told "we have noted your call" is forgotten. Each entry is one
// JSON line, written and fsynced before the caller hears anything; the
// line's replayer (Line.RunJournal) files every entry as soon as Redis
// answers again, under the same idempotency key as the live path, and only
// then deletes the file.
//
// The directory holds segments, "seg-<unix nanoseconds>-<pid>.jsonl". A
// process appends to one segment of its own, which it holds locked
// (flock); the replayer seals it (closes it, so the next entry starts a new
// one) and replays any segment nobody holds: its own sealed ones, and those
// of a process that died. So several processes may share a directory, and
// a restarted one replays what its predecessor left. A crash between
// filing an entry and deleting its segment only files it again, which the
// idempotency keys make harmless.
type Journal struct {
	dir string
	max int64
	log *slog.Logger

	mu      sync.Mutex
	active  *os.File // the segment this process appends to (locked), nil for none
	name    string   // its path
	entries int      // entries in it
	size    int64    // bytes of the segments in dir, as far as this process knows
}

// OpenJournal opens (making it if needed) the journal directory dir,
// bounded to maxBytes (0: DefaultJournalMaxBytes).
func OpenJournal(dir string, maxBytes int64, log *slog.Logger) (*Journal, error) {
	if dir == "" {
		return nil, hotline.Errorf(hotline.EINVALID, "phone journal: a directory is required")
	}
	if maxBytes <= 0 {
		maxBytes = DefaultJournalMaxBytes
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("phone journal: %w", err)
	}
	j := &Journal{dir: dir, max: maxBytes, log: log}
	segs, err := j.segments()
	if err != nil {
		return nil, err
	}
	for _, s := range segs {
		if fi, err := os.Stat(s); err == nil {
			j.size += fi.Size()
		}
	}
	// Prove now, not during an outage, that the directory takes files.
	probe := filepath.Join(dir, ".probe-"+strconv.Itoa(os.Getpid()))
	if err := os.WriteFile(probe, nil, 0o600); err != nil {
		return nil, fmt.Errorf("phone journal: directory %s is not writable: %w", dir, err)
	}
	os.Remove(probe)
	return j, nil
}

// Dir is the journal's directory.
func (j *Journal) Dir() string { return j.dir }

// errJournalFull is Append's refusal when the directory is at its bound.
var errJournalFull = errors.New("phone journal full")

// Append writes e as one line and fsyncs it: when Append returns nil the
// entry survives a crash of the process or the machine. Errors: the
// journal is full (logged at error level, with what to do), or the disk
// failed.
func (j *Journal) Append(e JournalEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return hotline.Internal(err)
	}
	b = append(b, '\n')
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.size+int64(len(b)) > j.max {
		j.log.Error("phone journal full: a caller could not be recorded while Redis is unreachable; "+
			"bring Redis back (the journal is replayed and emptied then) or raise [twilio] journal_max_bytes",
			"dir", j.dir, "bytes", j.size, "max", j.max)
		return errJournalFull
	}
	if j.active == nil {
		if err := j.openSegment(); err != nil {
			j.log.Error("phone journal: cannot start a segment", "dir", j.dir, "err", err)
			return err
		}
	}
	off, err := j.active.Seek(0, io.SeekEnd)
	if err == nil {
		if _, err = j.active.Write(b); err == nil {
			err = j.active.Sync()
		}
	}
	if err != nil {
		// Leave no half line for the replayer, and start afresh next time.
		_ = j.active.Truncate(off)
		j.closeActive()
		j.log.Error("phone journal: write failed", "dir", j.dir, "err", err)
		return err
	}
	j.size += int64(len(b))
	j.entries++
	return nil
}

// openSegment starts a new segment under a temporary name, locks it, and
// only then gives it its name: a replayer in another process never sees
// a segment that is not locked yet (and would take it for a dead one's).
func (j *Journal) openSegment() error {
	base := fmt.Sprintf("seg-%020d-%d", time.Now().UnixNano(), os.Getpid())
	tmp := filepath.Join(j.dir, "."+base+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	name := filepath.Join(j.dir, base+".jsonl")
	if err := os.Rename(tmp, name); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := syncDir(j.dir); err != nil {
		f.Close()
		return err
	}
	j.active, j.name, j.entries = f, name, 0
	return nil
}

// closeActive ends the current segment (its lock goes with the file).
func (j *Journal) closeActive() {
	if j.active != nil {
		j.active.Close()
		j.active, j.name, j.entries = nil, "", 0
	}
}

// Close closes the current segment; what it holds is replayed by the next
// process to open the directory.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.closeActive()
	return nil
}

// segments lists the segment files, oldest first.
func (j *Journal) segments() ([]string, error) {
	des, err := os.ReadDir(j.dir)
	if err != nil {
		return nil, fmt.Errorf("phone journal: %w", err)
	}
	var out []string
	for _, d := range des {
		if n := d.Name(); strings.HasPrefix(n, "seg-") && strings.HasSuffix(n, ".jsonl") && d.Type().IsRegular() {
			out = append(out, filepath.Join(j.dir, n))
		}
	}
	sort.Strings(out)
	return out, nil
}

// Pending reports whether any segment waits to be replayed (this
// process's current one included).
func (j *Journal) Pending() bool {
	segs, err := j.segments()
	return err == nil && len(segs) > 0
}

// Replay seals the current segment and hands every entry of every
// segment nobody else holds to file, oldest first. A segment is deleted
// once file has taken all its entries. file's EUNAVAILABLE stops the
// replay (the rest waits for the next one); any other error sets the entry
// aside in rejected.jsonl, logged, so one bad entry cannot hold back the
// others. It returns how many entries were filed.
func (j *Journal) Replay(ctx context.Context, file func(context.Context, JournalEntry) error) (int, error) {
	j.mu.Lock()
	if j.entries > 0 {
		j.closeActive()
	}
	own := j.name
	j.mu.Unlock()

	segs, err := j.segments()
	if err != nil {
		return 0, err
	}
	done := 0
	for _, s := range segs {
		if s == own {
			continue
		}
		n, err := j.replaySegment(ctx, s, file)
		done += n
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// replaySegment files the entries of one segment and deletes it. A
// segment locked by another process (its current one) is skipped.
func (j *Journal) replaySegment(ctx context.Context, path string, file func(context.Context, JournalEntry) error) (int, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil // another replayer finished it
	} else if err != nil {
		return 0, err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return 0, nil // a live process appends to it, or replays it now
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return 0, nil // deleted between our open and our lock
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	done := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		raw := sc.Bytes()
		if len(raw) == 0 {
			continue
		}
		var e JournalEntry
		if err := json.Unmarshal(raw, &e); err != nil {
			// Only a crash in the middle of a write leaves a broken line,
			// and that entry was never acknowledged to anyone.
			j.log.Warn("phone journal: unreadable line skipped (a write cut short by a crash)",
				"segment", filepath.Base(path), "line", line)
			continue
		}
		if err := file(ctx, e); err != nil {
			if hotline.ErrorCode(err) == hotline.EUNAVAILABLE || ctx.Err() != nil {
				return done, err
			}
			j.reject(raw, e, err)
			continue
		}
		done++
	}
	if err := sc.Err(); err != nil {
		return done, fmt.Errorf("phone journal: read %s: %w", filepath.Base(path), err)
	}
	if err := os.Remove(path); err != nil {
		return done, err
	}
	if err := syncDir(j.dir); err != nil {
		return done, err
	}
	j.mu.Lock()
	j.size = max(0, j.size-fi.Size())
	j.mu.Unlock()
	return done, nil
}

// reject keeps an entry the store refused for good, for a person to look
// at: it is not lost, and it no longer blocks the others.
func (j *Journal) reject(raw []byte, e JournalEntry, cause error) {
	j.log.Error("phone journal: an entry could not be filed; kept in rejected.jsonl for a person to file by hand",
		"kind", e.Kind, "call", e.CallSid, "message", e.MessageSid, "from", hotline.MaskPhone(e.From), "err", cause)
	f, err := os.OpenFile(filepath.Join(j.dir, "rejected.jsonl"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		j.log.Error("phone journal: cannot keep the rejected entry", "err", err)
		return
	}
	defer f.Close()
	if _, err := f.Write(append(append([]byte(nil), raw...), '\n')); err == nil {
		_ = f.Sync()
	}
}

// syncDir makes a file's creation, rename or removal in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// journalCall records the call whose step could not be served, with what
// this step's input says (the earlier steps' answers are in the store, and
// the replay joins them). A withheld number cannot be called back: false,
// as when the journal refuses the entry.
func (l *Line) journalCall(sid, step, lang string, form url.Values) bool {
	from := normalizeFrom(form.Get("From"))
	if from == "" {
		return false
	}
	e := JournalEntry{Kind: JournalCall, At: l.now().UTC(), CallSid: sid, From: from, To: form.Get("To"),
		Lang: lang, Step: step}
	switch step {
	case StepMenu:
		if strings.TrimSpace(form.Get("Digits")) == "9" {
			e.Lang = "en"
		}
	case StepCategory:
		cats := l.menu()
		if i := categoryChoice(cats, form); i >= 0 {
			e.Category = cats[i].Code
		}
	case StepCommittee:
		n, speech := committeeNumber(form)
		cs := l.committees()
		switch {
		case n >= 1 && n <= len(cs):
			e.Committee, e.How = cs[n-1].ID, howKeypad
		case n < 0 && speech != "":
			if _, ok := l.d.Directory.Network().CommitteeForAddress(speech); ok {
				e.Address = clip(speech, intake.MaxAddress)
			}
		}
	case StepDescribe:
		e.Description = clip(strings.TrimSpace(form.Get("SpeechResult")), intake.MaxDescription)
	case StepRecord:
		if u := form.Get("RecordingUrl"); usableURL(u) && form.Get("RecordingDuration") != "0" {
			e.RecordingURL = u
		}
	}
	if err := l.d.Journal.Append(e); err != nil {
		return false
	}
	l.log.Warn("phone: the store is unreachable; the call is kept in the journal for a callback",
		"call", sid, "step", step, "from", hotline.MaskPhone(from))
	return true
}

// voiceNotedReply tells a journaled caller, in Mandarin then English, that
// the call is noted and will be returned, and hangs up.
func (l *Line) voiceNotedReply() (reply, error) {
	out, err := twiml.Voice([]twiml.Element{
		l.say("zh", text("zh", voiceNoted)), l.say("en", text("en", voiceNoted)), twiml.VoiceHangup{},
	})
	if err != nil {
		return reply{}, hotline.Internal(err)
	}
	return reply{xml: []byte(out)}, nil
}

// DefaultJournalReplay is how often RunJournal looks for entries to file.
const DefaultJournalReplay = 2 * time.Second

// RunJournal files the journal's entries every interval (0: the default),
// whenever the store answers, until ctx ends. Without a journal it
// returns at once.
func (l *Line) RunJournal(ctx context.Context, every time.Duration) {
	if l.d.Journal == nil {
		return
	}
	if every <= 0 {
		every = DefaultJournalReplay
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := l.ReplayJournal(ctx); err != nil && ctx.Err() == nil &&
			hotline.ErrorCode(err) != hotline.EUNAVAILABLE {
			l.log.Error("phone journal: replay failed; trying again", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ReplayJournal files what the journal holds, when the store answers: a
// call becomes its callback ticket (or its recording joins the call's
// ticket), a message is acted on as if it had just come and its answer
// goes by SMS. Everything uses the live path's idempotency keys, so a call
// that was also filed the usual way (its status callback came once the
// store was back) still has one ticket. It returns how many entries were
// filed. Errors: EUNAVAILABLE when the store is still away.
func (l *Line) ReplayJournal(ctx context.Context) (int, error) {
	j := l.d.Journal
	if j == nil || !j.Pending() {
		return 0, nil
	}
	// One cheap read first, so that an outage does not seal a segment
	// at every attempt.
	var probe struct{}
	if _, err := l.d.Sessions.Load(ctx, "twilio:journal:probe", &probe); err != nil {
		return 0, err
	}
	n, err := j.Replay(ctx, l.replayEntry)
	if n > 0 {
		l.log.Info("phone journal: filed the calls and messages taken while the store was unreachable", "entries", n)
	}
	return n, err
}

func (l *Line) replayEntry(ctx context.Context, e JournalEntry) error {
	switch e.Kind {
	case JournalCall:
		if !sidOK(e.CallSid) {
			return invalid("journal: call entry without a CallSid")
		}
		return l.replayCall(ctx, e)
	case JournalSMS:
		if !sidOK(e.MessageSid) || e.From == "" {
			return invalid("journal: message entry without a MessageSid or number")
		}
		return l.replaySMS(ctx, e)
	}
	return invalid("journal: unknown entry kind %q", e.Kind)
}

// replayCall makes sure the call has a ticket: the one it got (then only
// a journaled recording is added to it), else a callback ticket with what
// the store and the journal know of the call.
func (l *Line) replayCall(ctx context.Context, e JournalEntry) error {
	sid := e.CallSid
	id, err := l.ticketOfCall(ctx, sid)
	if err != nil {
		return err
	}
	if id == "" {
		st, found, err := l.loadCall(ctx, sid)
		if err != nil {
			return err
		}
		if !found {
			st = call{From: e.From, Lang: e.Lang}
		}
		if st.TicketID == "" {
			return l.fileJournaledCall(ctx, e, st, found)
		}
		id = st.TicketID
	}
	if e.RecordingURL != "" {
		return l.attachRecording(ctx, id, e.RecordingURL, "")
	}
	return nil
}

// fileJournaledCall files the callback ticket of a journaled call, the
// journal's input (newer) over the call's state in the store.
func (l *Line) fileJournaledCall(ctx context.Context, e JournalEntry, st call, found bool) error {
	for _, f := range []struct {
		dst *string
		v   string
	}{
		{&st.From, e.From}, {&st.Lang, e.Lang}, {&st.Category, e.Category}, {&st.Address, e.Address},
		{&st.Description, e.Description}, {&st.RecordingURL, e.RecordingURL},
	} {
		if f.v != "" {
			*f.dst = f.v
		}
	}
	if e.Committee != "" {
		st.Committee, st.How, st.Address = e.Committee, e.How, ""
	}
	if st.From == "" {
		// A recording callback of a call the store knows nothing more
		// of: keep the recording with the call, if there is one.
		if found {
			return l.saveCall(ctx, e.CallSid, st)
		}
		l.log.Warn("phone journal: a call without a usable number; nobody to call back", "call", e.CallSid)
		return nil
	}
	status := e.CallStatus
	if status == "" {
		status = text(st.Lang, statusJournaled)
	}
	sub := intake.Submission{
		Channel: hotline.ChannelVoice, ServiceCode: l.category(l.cfg.CallbackCategory),
		Description: l.callbackDescription(st, status), Address: st.Address, Phone: st.From,
		Consent: true, Language: st.Lang, MediaURL: st.RecordingURL, ExternalRef: e.CallSid, Actor: Actor,
	}
	t, err := l.fileCall(ctx, e.CallSid, &st, sub)
	if err != nil {
		return err
	}
	if found {
		if err := l.saveCall(ctx, e.CallSid, st); err != nil {
			return err
		}
	}
	l.log.Info("phone journal: callback ticket for a call taken while the store was unreachable",
		"call", e.CallSid, "ticket", t.ID, "from", hotline.MaskPhone(st.From))
	return nil
}

// replaySMS acts on a journaled message as if it had just come, and sends
// its answer by SMS through the outbox (once: the key is the message's).
func (l *Line) replaySMS(ctx context.Context, e JournalEntry) error {
	msg, err := l.processSMS(ctx, e.MessageSid, e.From, e.Body, e.MediaURL)
	if err != nil || msg == "" {
		return err
	}
	_, err = l.d.Outbox.Enqueue(ctx, &hotline.OutboundMessage{
		Key: "twilio:sms:" + e.MessageSid + ":reply", To: e.From, Body: msg, Kind: "reply",
	})
	return err
}
