package phone_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/caojiadu/hotline/intake"
	"github.com/caojiadu/hotline/phone"
)

const volunteerNo = "+8613900000001"

// fakeTasks answers "1" from volunteerNo once, as a Tasker does: the
// first answer accepts, a repeat finds nothing left to answer.
type fakeTasks struct {
	mu    sync.Mutex
	calls []string
	done  bool
}

func (f *fakeTasks) HandleSMS(_ context.Context, from, body string) (string, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, from+" "+body)
	if from != volunteerNo || body != "1" || f.done {
		return "", false, nil
	}
	f.done = true
	return "已接受工单 160035 的任务", true, nil
}

// MustTaskLine is st's line with Deps.Tasks set.
func MustTaskLine(tb testing.TB, st *Street, tasks phone.Tasks) *Street {
	tb.Helper()
	in := intake.New(st.Tickets, st.Dir)
	in.Now = st.Clock.Now
	in.Place = st.Dispatch.PlaceNew
	line, err := phone.New(phone.Config{AuthToken: authToken, PublicURL: publicURL, FromNumber: lineNo, Hours: "daily 08:00-20:00"},
		phone.Deps{Intake: in, Tickets: st.Tickets, Directory: st.Dir, Outbox: st.Outbox, OptOuts: st.OptOuts,
			Sessions: st.Sessions, Rater: st.Dispatch, Tasks: tasks, Now: st.Clock.Now})
	if err != nil {
		tb.Fatal(err)
	}
	c := *st
	c.Line, c.Handler = line, line.Handler()
	return &c
}

// A volunteer's "1" is the Tasks' to answer, once, and a Twilio retry of
// it gets the same bytes although Tasks no longer takes it; STOP still
// comes first, and other numbers' messages go on as before.
func TestSMS_VolunteerTaskAnswer(t *testing.T) {
	tasks := &fakeTasks{}
	st := MustTaskLine(t, MustStreet(t), tasks)

	f := smsForm("SM00000000000000000000000000000901", volunteerNo, "1")
	w1 := st.Post(t, phone.PathSMS, f)
	if got := MustTwiML(t, w1).Said(); !strings.Contains(got, "已接受工单 160035") {
		t.Fatalf("task answer: %q", got)
	}
	w2 := st.Post(t, phone.PathSMS, f)
	if !bytes.Equal(w1.Body.Bytes(), w2.Body.Bytes()) {
		t.Errorf("retry answered differently:\n%s\n%s", w1.Body, w2.Body)
	}
	if got := st.CountTickets(t); got != 0 {
		t.Errorf("a task answer filed %d tickets", got)
	}

	// Not an answer: the line's usual handling (a new need).
	got := st.SMS(t, "SM00000000000000000000000000000902", resident, "楼道灯坏了")
	if !strings.Contains(got, "工单") || st.CountTickets(t) != 1 {
		t.Errorf("a resident's need after the hook: %q, %d tickets", got, st.CountTickets(t))
	}

	// STOP is never offered to Tasks.
	n := len(tasks.calls)
	st.SMS(t, "SM00000000000000000000000000000903", volunteerNo, "STOP")
	if len(tasks.calls) != n {
		t.Errorf("Tasks was asked about STOP: %v", tasks.calls[n:])
	}
	if out, _ := st.OptOuts.OptedOut(context.Background(), volunteerNo); !out {
		t.Errorf("STOP from a volunteer not recorded")
	}
}
