package volunteers_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/internal/redistest"
	"github.com/caojiadu/hotline/network"
	"github.com/caojiadu/hotline/redisstore"
	"github.com/caojiadu/hotline/volunteers"
)

// FuzzImport imports any bytes into an empty registry. A file that cannot
// be read as a list is refused with EINVALID; otherwise every row is
// counted once (created, or rejected with its line and a reason) and what
// went in comes out of Export and goes in again changing nothing, as
// docs/volunteers.md promises the street's social workers.
func FuzzImport(f *testing.F) {
	gbk, err := simplifiedchinese.GBK.NewEncoder().String("姓名,手机,居委会,语言\n张伟,13800000001,c01,普通话\n")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		goodCSV, gbk, "\xef\xbb\xbf" + goodCSV,
		"姓名,手机,居委会,技能,资质,语言,服务时间,状态\n好人,13800000001,c01,legal,,普通话,,\n,13800000002,c01,legal,,zh,,\n" +
			"乱技能,13800000005,c01,flying,lawyer:明年,klingon,whenever,retired\n重复,138 0000 0001,c01,legal,,zh,,\n\n",
		"name,phone,committee,notes,address\n'=1+1,13800000011,c01,'@SUM(A1),+86 21 6234\n",
		"name,phone,committee,qualifications,max_tasks,classification,groups\n王,13800000012,c05,lawyer：2027-06-30;nurse,2,professional,c05-visits\n",
		"name,phone,committee,max_tasks\n王,13800000013,c01,-3\n李,13800000014,c01,9999999999999999999\n",
		"name,phone,committee\n\"a\"\"b\",13800000015,c01\n\"open,13800000016,c01\n",
		"name,phone,committee,skills,languages\n  ,  ,  ,;;;,、、\n",
		"name ,Phone,COMMITTEE,max tasks\nx,13800000017,c01,1\n",
		"name,phone,committee\n", "name\n", "\x00", "\x80\xff",
	} {
		f.Add([]byte(s))
	}
	client, prefix := redistest.New(f)
	n, cat := network.Demo()
	dir := hotline.NewStaticDirectory(n, cat)
	ctx := context.Background()
	runs := 0
	f.Fuzz(func(t *testing.T, csv []byte) {
		runs++ // each input on a registry of its own
		s := &volunteers.Service{Store: redisstore.NewVolunteerStore(redisstore.NewDB(client, fmt.Sprintf("%s-%d", prefix, runs))),
			Assignments: &fakeAssignments{open: map[string]int{}}, Directory: dir,
			Now: func() time.Time { return fixedNow }, Logger: slog.New(slog.DiscardHandler)}
		rep, err := s.Import(ctx, socialWorker, bytes.NewReader(csv))
		if err != nil {
			if hotline.ErrorCode(err) != hotline.EINVALID || hotline.ErrorMessage(err) == "" {
				t.Fatalf("%q: %v, want EINVALID with a message", csv, err)
			}
			return
		}
		lines := bytes.Count(csv, []byte("\n")) + 1
		if rep.Updated != 0 || rep.Unchanged != 0 || rep.Created+rep.RejectedRows != rep.Rows {
			t.Fatalf("%q into an empty registry: %s", csv, counts(rep))
		}
		if rep.RejectedRows > 0 && len(rep.Rejected) == 0 {
			t.Fatalf("%q: %d rows rejected without a reason", csv, rep.RejectedRows)
		}
		for _, e := range rep.Rejected {
			if e.Line < 2 || e.Line > lines || e.Reason == "" {
				t.Fatalf("%q: rejected row %+v: want its line (2..%d) and a reason", csv, e, lines)
			}
		}
		var out bytes.Buffer
		if err := s.Export(ctx, socialWorker, &out, hotline.VolunteerFilter{}); err != nil {
			t.Fatal(err)
		}
		again, err := s.Import(ctx, socialWorker, bytes.NewReader(out.Bytes()))
		if err != nil {
			t.Fatalf("%q: its export %q is refused: %v", csv, out.String(), err)
		}
		if want := fmt.Sprintf("rows %d created 0 updated 0 unchanged %d rejected 0", rep.Created, rep.Created); counts(again) != want {
			t.Fatalf("%q: its export %q imports as %s, want %s; %v", csv, out.String(), counts(again), want, again.Rejected)
		}
	})
}
