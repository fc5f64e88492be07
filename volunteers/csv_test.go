package volunteers_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/volunteers"
)

const goodCSV = `name,phone,committee,address,skills,qualifications,languages,availability,groups,status,classification,max_tasks,notes
王芳,13812345678,c05,,legal;elderly_visit,lawyer:2027-06-30;nurse,zh;wuu,mon-fri 18:00-21:00; sat 09:00-17:00,c05-visits,active,professional,3,退休法官
李强,139 0000 0001,c01,,home_repair,electrician,zh,,,,,,
"Smith, Anna",+86 138-0000-0002,c04,,elderly_visit,,en;zh,daily 09:00-12:00,,approved,general,,"two lines
of notes"
`

func mustImport(tb testing.TB, s *volunteers.Service, csv string) volunteers.ImportReport {
	tb.Helper()
	rep, err := s.Import(context.Background(), socialWorker, strings.NewReader(csv))
	if err != nil {
		tb.Fatal(err)
	}
	return rep
}

func counts(r volunteers.ImportReport) string {
	return fmt.Sprintf("rows %d created %d updated %d unchanged %d rejected %d", r.Rows, r.Created, r.Updated, r.Unchanged, r.RejectedRows)
}

func TestImportGoodRowsAndReimport(t *testing.T) {
	s, store, _ := MustService(t)
	ctx := context.Background()
	rep := mustImport(t, s, goodCSV)
	if got, want := counts(rep), "rows 3 created 3 updated 0 unchanged 0 rejected 0"; got != want {
		t.Fatalf("%s, want %s (%v)", got, want, rep.Rejected)
	}
	v, err := store.FindVolunteerByPhone(ctx, "+8613812345678")
	if err != nil {
		t.Fatal(err)
	}
	if v.Status != hotline.VolunteerActive || v.Classification != "professional" || v.MaxTasks != 3 || v.Source != "import" ||
		len(v.Qualifications) != 2 || v.Availability != "mon-fri 18:00-21:00; sat 09:00-17:00" || v.Groups[0] != "c05-visits" {
		t.Errorf("imported %+v", v)
	}
	li, _ := store.FindVolunteerByPhone(ctx, "+8613900000001")
	if li.Status != hotline.VolunteerApproved {
		t.Errorf("a row without status: %s, want approved", li.Status)
	}

	// The same file again changes nothing, not even versions.
	rep = mustImport(t, s, goodCSV)
	if got, want := counts(rep), "rows 3 created 0 updated 0 unchanged 3 rejected 0"; got != want {
		t.Errorf("re-import: %s, want %s", got, want)
	}
	again, _ := store.FindVolunteerByPhone(ctx, "+8613812345678")
	if again.Version != v.Version {
		t.Errorf("re-import moved the version %d → %d", v.Version, again.Version)
	}

	// A changed row updates that volunteer only.
	changed := strings.Replace(goodCSV, "李强,139 0000 0001,c01", "李强,139 0000 0001,c02", 1)
	rep = mustImport(t, s, changed)
	if got, want := counts(rep), "rows 3 created 0 updated 1 unchanged 2 rejected 0"; got != want {
		t.Errorf("changed: %s, want %s", got, want)
	}
	li2, _ := store.FindVolunteerByPhone(ctx, "+8613900000001")
	if li2.Committee != "c02" || li2.Version != li.Version+1 {
		t.Errorf("updated %+v", li2)
	}
}

func TestImportBadRowsWithReasons(t *testing.T) {
	s, _, _ := MustService(t)
	csv := "姓名,手机,居委会,技能,资质,语言,服务时间,状态\n" +
		"好人,13800000001,c01,legal,,普通话,,\n" + // line 2: good
		",13800000002,c01,legal,,zh,,\n" + // 3: no name
		"坏号码,12345,c01,legal,,zh,,\n" + // 4: bad phone
		"外人,13800000004,c99,legal,,zh,,\n" + // 5: unknown committee
		"乱技能,13800000005,c01,flying,lawyer:明年,klingon,whenever,retired\n" + // 6: four bad cells and a bad status
		"重复,138 0000 0001,c01,legal,,zh,,\n" + // 7: the phone of line 2
		"\n" + // blank lines are skipped
		"好人二,13800000008,c02,elderly_visit,,zh,sat 09:00-12:00,在岗\n" // 9: good
	rep := mustImport(t, s, csv)
	if got, want := counts(rep), "rows 7 created 2 updated 0 unchanged 0 rejected 5"; got != want {
		t.Fatalf("%s, want %s", got, want)
	}
	var lines []string
	for _, e := range rep.Rejected {
		lines = append(lines, fmt.Sprintf("%d %s", e.Line, e.Column))
	}
	want := []string{"3 姓名", "4 手机", "5 居委会", "6 技能", "6 资质", "6 语言", "6 服务时间", "6 状态", "7 手机"}
	if strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Errorf("rejected %v\nwant %v", lines, want)
	}
	for _, e := range rep.Rejected {
		if e.Reason == "" {
			t.Errorf("no reason for %+v", e)
		}
	}
	if !strings.Contains(rep.Rejected[8].Reason, "line 2") || !strings.Contains(rep.Rejected[4].Reason, "2027-06-30") {
		t.Errorf("reasons: %q, %q", rep.Rejected[8].Reason, rep.Rejected[4].Reason)
	}
}

func TestImportRefusesTheFile(t *testing.T) {
	s, _, _ := MustService(t)
	for name, csv := range map[string]string{
		"empty":          "",
		"no phone":       "name,committee\n王,c01\n",
		"unknown column": "name,phone,committee,shoe size\n",
		"twice":          "name,phone,手机,committee\n",
	} {
		if _, err := s.Import(context.Background(), socialWorker, strings.NewReader(csv)); hotline.ErrorCode(err) != hotline.EINVALID {
			t.Errorf("%s: %v", name, err)
		}
	}
	big := strings.NewReader("name,phone,committee\n" + strings.Repeat("x", volunteers.MaxImportBytes))
	if _, err := s.Import(context.Background(), socialWorker, big); hotline.ErrorCode(err) != hotline.EINVALID ||
		!strings.Contains(hotline.ErrorMessage(err), "20 MB") {
		t.Errorf("too big: %v", err)
	}
	for _, u := range []*hotline.User{nil, dispatcher, groupLead} {
		if _, err := s.Import(context.Background(), u, strings.NewReader(goodCSV)); hotline.ErrorCode(err) != hotline.EFORBIDDEN {
			t.Errorf("import by %v: %v", u, err)
		}
		if err := s.Export(context.Background(), u, &bytes.Buffer{}, hotline.VolunteerFilter{}); hotline.ErrorCode(err) != hotline.EFORBIDDEN {
			t.Errorf("export by %v: %v", u, err)
		}
	}
}

func TestImportEncodings(t *testing.T) {
	s, store, _ := MustService(t)
	csv := "姓名,手机,居委会,语言\n张伟,13800000001,c01,普通话\n"
	gbk, err := simplifiedchinese.GBK.NewEncoder().String(csv)
	if err != nil {
		t.Fatal(err)
	}
	rep := mustImport(t, s, gbk)
	if rep.Created != 1 {
		t.Fatalf("GBK: %s %v", counts(rep), rep.Rejected)
	}
	v, _ := store.FindVolunteerByPhone(context.Background(), "+8613800000001")
	if v.Name != "张伟" {
		t.Errorf("GBK name read as %q", v.Name)
	}
	rep = mustImport(t, s, "\xef\xbb\xbf"+csv)
	if counts(rep) != "rows 1 created 0 updated 0 unchanged 1 rejected 0" {
		t.Errorf("UTF-8 with BOM: %s %v", counts(rep), rep.Rejected)
	}
}

func TestExportThenImportChangesNothing(t *testing.T) {
	s, store, _ := MustService(t)
	ctx := context.Background()
	mustImport(t, s, goodCSV)
	// Someone registered by the form, with a formula-looking name.
	f := goodForm()
	f.Name, f.Phone = "=HYPERLINK(1)", "13700000001"
	if _, err := s.Register(ctx, f); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := s.Export(ctx, socialWorker, &buf, hotline.VolunteerFilter{}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.HasPrefix(out, "\xef\xbb\xbfname,phone,committee,") || !strings.Contains(out, "'=HYPERLINK(1)") ||
		!strings.Contains(out, ",13812345678,") || !strings.Contains(out, "lawyer:2027-06-30;nurse") {
		t.Errorf("export:\n%s", out)
	}
	if n := strings.Count(out, "\n"); n != 6 { // header, 4 rows, one of them two lines
		t.Errorf("%d lines:\n%s", n, out)
	}
	before, _, _ := store.FindVolunteers(ctx, hotline.VolunteerFilter{})
	rep := mustImport(t, s, out)
	if got, want := counts(rep), "rows 4 created 0 updated 0 unchanged 4 rejected 0"; got != want {
		t.Errorf("import of the export: %s, want %s (%v)", got, want, rep.Rejected)
	}
	after, _, _ := store.FindVolunteers(ctx, hotline.VolunteerFilter{})
	for i := range before {
		if before[i].Version != after[i].Version {
			t.Errorf("%s: version %d → %d", before[i].ID, before[i].Version, after[i].Version)
		}
	}
	// A filtered export holds only what the filter selects.
	buf.Reset()
	if err := s.Export(ctx, socialWorker, &buf, hotline.VolunteerFilter{Committee: "c04"}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "\n"); n != 3 || !strings.Contains(buf.String(), "Smith, Anna") {
		t.Errorf("c04 export:\n%s", buf.String())
	}
}
