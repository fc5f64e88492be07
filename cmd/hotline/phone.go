package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/twilio/twilio-go"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/intake"
	"github.com/caojiadu/hotline/notify"
	"github.com/caojiadu/hotline/phone"
	"github.com/caojiadu/hotline/redisstore"
	"github.com/caojiadu/hotline/simulator"
	"github.com/caojiadu/hotline/twiliofake"
)

// phoneLine is the phone line as wired: Twilio's webhooks, the outbox
// sender, the notifier, and on the trial store the simulator with a fake of
// Twilio's REST API inside the process.
type phoneLine struct {
	line *phone.Line
	// fake and fakeSrv serve Twilio's REST API on a loopback port when no
	// Twilio account is configured (the simulator's trial); nil otherwise.
	fake    *twiliofake.Server
	fakeSrv *http.Server
	// journal keeps callers while Redis is unreachable.
	journal *phone.Journal
}

// openPhone wires the phone line onto the server, which listens but does
// not serve yet (its URL is the public URL of a trial). It mounts the
// webhooks and, when on, the simulator; the sender and the notifier start
// with the background work (startPhone).
//
// Without a Twilio account the webhooks only make sense for the simulator:
// a random auth token signs its requests, and SMS go through twilio-go's
// real REST client to the fake API. Without an account and without the
// simulator, the phone line stays off and says so.
func (m *Main) openPhone(st *Store, tickets *redisstore.TicketStore, in *intake.Service,
	outbox hotline.Outbox, sessions hotline.PhoneSessions, tasks phone.Tasks) (*phoneLine, error) {
	tw := m.Config.Twilio
	trial := tw.AccountSID == ""
	sim := tw.Simulator == "on" || (tw.Simulator == "auto" && st.Embedded != nil && trial)
	if trial && !sim {
		m.Logger.Info("phone line off: no Twilio account configured ([twilio] account_sid) and the simulator is off")
		return nil, nil
	}
	p := &phoneLine{}
	publicURL := tw.PublicURL
	if publicURL == "" {
		publicURL = m.Server.URL()
	}
	var rest *twilio.RestClient
	if trial {
		// A token given without an account signs the webhooks (the fault
		// suite drives them from outside); else nobody but the simulator
		// needs to know it.
		tw.AccountSID = "AC" + randomHex(16)
		if tw.AuthToken == "" {
			tw.AuthToken = randomHex(16)
		}
		if tw.FromNumber == "" && tw.MessagingServiceSID == "" {
			tw.FromNumber = simulator.DefaultHotlineNumber
		}
		p.fake = twiliofake.New(twiliofake.Config{AccountSID: tw.AccountSID, AuthToken: tw.AuthToken,
			Callbacks: true, Logger: m.Logger})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("phone simulator: %w", err)
		}
		p.fakeSrv = &http.Server{Handler: p.fake, ReadHeaderTimeout: 10 * time.Second}
		go p.fakeSrv.Serve(ln)
		base := &url.URL{Scheme: "http", Host: ln.Addr().String()}
		rest = twiliofake.NewRestClient(base, tw.AccountSID, tw.AuthToken)
	} else {
		rest = twilio.NewRestClientWithParams(twilio.ClientParams{Username: tw.AccountSID, Password: tw.AuthToken})
	}

	journalDir := tw.JournalDir
	if journalDir == "" {
		journalDir = filepath.Join(m.DataDir, "phone-journal")
	}
	journal, err := phone.OpenJournal(journalDir, tw.JournalMaxBytes, m.Logger)
	if err != nil {
		p.close()
		return nil, fmt.Errorf("[twilio] journal_dir: %w", err)
	}
	p.journal = journal
	optOuts := redisstore.NewOptOuts(st.DB)
	line, err := phone.New(phone.Config{
		AuthToken:  tw.AuthToken,
		PublicURL:  publicURL,
		FromNumber: tw.FromNumber,
		Hours:      tw.VoiceHours,
		VoiceZH:    tw.VoiceZH,
		VoiceEN:    tw.VoiceEN,
		// A number's remembered committee and tickets go no later than
		// the personal details of its tickets (docs/RETENTION.md).
		CallerTTL: min(phone.DefaultCallerTTL, m.Config.Retention.PersonalData.Duration),
	}, phone.Deps{
		Intake: in, Tickets: tickets, Directory: m.Directory,
		Outbox: outbox, OptOuts: optOuts, Sessions: sessions,
		Rater: m.Dispatch, Tasks: tasks, Journal: journal, Logger: m.Logger,
	})
	if err != nil {
		p.close()
		return nil, err
	}
	p.line = line
	for _, path := range []string{phone.PathVoice, phone.PathSMS, phone.PathStatus, phone.PathRecording} {
		m.Server.Handle("POST "+path, line.Handler())
	}
	if sim {
		var inbox simulator.Inbox
		if p.fake != nil {
			inbox = p.fake
		}
		s, err := simulator.New(simulator.Config{AuthToken: tw.AuthToken, PublicURL: publicURL,
			HotlineNumber: tw.FromNumber, AccountSID: tw.AccountSID, Logger: m.Logger}, m.Server.Handler(), inbox)
		if err != nil {
			p.close()
			return nil, err
		}
		m.Server.Handle("/sim/", s)
		m.Logger.Info("phone simulator on: open /phone.html", "url", m.Server.URL()+"/phone.html",
			"twilio", map[bool]string{true: "fake API inside the process", false: "real account"}[trial])
		// The simulator's inbox answers anyone who can reach the port with
		// the texts sent to any number: fine for a trial with made-up
		// phones, not with real residents.
		m.Logger.Warn("the phone simulator shows the SMS sent to any number to whoever can reach this port: set [twilio] simulator = \"off\" before real residents use this service")
	}

	sender := notify.NewSender(outbox, optOuts, rest.Api, notify.SenderConfig{
		From: tw.FromNumber, MessagingServiceSID: tw.MessagingServiceSID,
		StatusCallback: notify.StatusCallbackURL(publicURL), Logger: m.Logger,
	})
	notifier := notify.NewNotifier(tickets, outbox, sessions)
	notifier.Logger = m.Logger
	feed := redisstore.NewFeed(st.DB)
	consumer := consumerName(m.Server.Addr())
	m.startBackground(func(ctx context.Context) { _ = sender.Run(ctx) })
	// What callers left while Redis was away (this replica's journal, and
	// a dead predecessor's on the same directory) is filed when it answers.
	m.startBackground(func(ctx context.Context) { line.RunJournal(ctx, 0) })
	m.startBackground(func(ctx context.Context) {
		if err := feed.Consume(ctx, "notify", consumer, notifier.Handler(ctx)); err != nil && ctx.Err() == nil {
			m.Logger.Error("notifications stopped", "err", err)
		}
	})
	return p, nil
}

// noteTicket teaches the phone line the committee of a web or Open311
// ticket's number, off the request (two Redis round trips the resident
// need not wait for). The line notes its own voice and SMS tickets itself.
func (m *Main) noteTicket(t *hotline.Ticket) {
	p := m.phone
	if p == nil || p.line == nil || t.Contact.Phone == "" || t.Channel == hotline.ChannelVoice || t.Channel == hotline.ChannelSMS {
		return
	}
	m.background.Add(1)
	go func() {
		defer m.background.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = p.line.NoteTicket(ctx, t) // best effort: the next call asks for the committee
	}()
}

func (p *phoneLine) close() {
	if p == nil {
		return
	}
	if p.fakeSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = p.fakeSrv.Shutdown(ctx)
		cancel()
	}
	if p.fake != nil {
		p.fake.Close()
	}
	if p.journal != nil {
		p.journal.Close()
	}
}

// consumerName names this replica in the feed's consumer groups: stable
// across its restarts (the same host and listen address), distinct from
// the other replicas'.
func consumerName(addr string) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "hotline"
	}
	return host + "/" + addr
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(errors.New("no randomness: " + err.Error())) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}
