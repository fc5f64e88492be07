package volunteers

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/dispatch"
	"github.com/caojiadu/hotline/intake"
)

// Bounds of one import. The street's list is 2,000 rows; a district's,
// tens of thousands: 200,000 rows in 20 MB leaves room and keeps a
// mistaken upload (a photo, a database dump) from tying up a replica.
const (
	MaxImportBytes = 20 << 20
	MaxImportRows  = 200_000
	// importChunk is how many rows are looked up and written per round
	// trip pair (one phone lookup script, one pipeline of writes).
	importChunk = 500
	// maxRejected bounds the rows the report lists one by one.
	maxRejected = 10_000
)

// Columns are the CSV columns in the order Export writes them, with the
// Chinese names Import accepts too (docs/volunteers.md).
var Columns = []Term{
	{"name", "姓名", "name"},
	{"phone", "手机", "phone"},
	{"committee", "居委会", "committee"},
	{"address", "地址", "address"},
	{"skills", "技能", "skills"},
	{"qualifications", "资质", "qualifications"},
	{"languages", "语言", "languages"},
	{"availability", "服务时间", "availability"},
	{"groups", "所属队伍", "groups"},
	{"status", "状态", "status"},
	{"classification", "分类", "classification"},
	{"max_tasks", "最多任务数", "max tasks"},
	{"notes", "备注", "notes"},
}

// columnAliases are other headers seen in the street's spreadsheets.
var columnAliases = map[string]string{
	"手机号": "phone", "电话": "phone", "联系电话": "phone", "手机号码": "phone",
	"所属居委会": "committee", "居委": "committee",
	"服务技能": "skills", "专长": "skills",
	"专业资质": "qualifications", "资格": "qualifications",
	"可服务时间": "availability", "时间": "availability",
	"志愿队": "groups", "队伍": "groups",
	"类别": "classification",
}

// Statuses with their Chinese names, for the status column.
var Statuses = []Term{
	{string(hotline.VolunteerApplied), "待审核", "applied"},
	{string(hotline.VolunteerApproved), "已通过", "approved"},
	{string(hotline.VolunteerActive), "在岗", "active"},
	{string(hotline.VolunteerSuspended), "暂停", "suspended"},
	{string(hotline.VolunteerLeft), "已退出", "left"},
	{string(hotline.VolunteerRejected), "未通过", "rejected"},
}

// RowError is one rejected row: its line in the file (the first line of
// the record), the column at fault as the file names it ("" for the whole
// row) and the reason.
type RowError struct {
	Line   int    `json:"line"`
	Column string `json:"column,omitempty"`
	Reason string `json:"reason"`
}

// ImportReport says what an import did. Rows are counted once each:
// Created + Updated + Unchanged + rejected rows = rows in the file.
type ImportReport struct {
	Rows      int        `json:"rows"`
	Created   int        `json:"created"`
	Updated   int        `json:"updated"`
	Unchanged int        `json:"unchanged"`
	Rejected  []RowError `json:"rejected"`
	// RejectedRows counts the rows rejected (a row may have several
	// RowErrors, and the list stops at 10,000).
	RejectedRows int `json:"rejected_rows"`
}

// decodeText turns the file into UTF-8: a UTF-8 BOM is dropped, and a
// file that is not valid UTF-8 is read as GB18030 (which includes GBK and
// GB2312), what Excel on a Chinese Windows writes as "CSV".
func decodeText(b []byte) ([]byte, error) {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	if utf8.Valid(b) {
		return b, nil
	}
	out, err := simplifiedchinese.GB18030.NewDecoder().Bytes(b)
	if err != nil || !utf8.Valid(out) {
		return nil, hotline.Errorf(hotline.EINVALID, "the file is neither UTF-8 nor GB18030/GBK text; save it from the spreadsheet as CSV (UTF-8)")
	}
	return out, nil
}

// row is one parsed record.
type row struct {
	line   int
	fields []string
}

// Import reads a CSV of volunteers and creates or updates them by phone
// number: a row that says what is stored changes nothing (not even the
// version), a row that differs updates the volunteer, a new phone creates
// one (status approved unless the row says otherwise, source "import").
// Rows in error are reported with line, column and reason and the others
// still go in. The status column sets the status as given: an import is a
// social worker's bulk edit, not a step of the review workflow.
//
// Errors (nothing written): EFORBIDDEN, EINVALID for a file that is too
// big, not text, or whose header lacks name, phone or committee or has
// an unknown column; EUNAVAILABLE (some chunks may have been written:
// importing the file again completes it).
func (s *Service) Import(ctx context.Context, u *hotline.User, r io.Reader) (ImportReport, error) {
	var rep ImportReport
	if !CanManage(u) {
		return rep, hotline.Errorf(hotline.EFORBIDDEN, "only social workers and administrators can import volunteers")
	}
	raw, err := io.ReadAll(io.LimitReader(r, MaxImportBytes+1))
	if err != nil {
		return rep, hotline.Errorf(hotline.EINVALID, "the file could not be read: %v", err)
	}
	if len(raw) > MaxImportBytes {
		return rep, hotline.Errorf(hotline.EINVALID, "the file is larger than %d MB; split it into several files", MaxImportBytes>>20)
	}
	text, err := decodeText(raw)
	if err != nil {
		return rep, err
	}
	cr := csv.NewReader(bytes.NewReader(text))
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err == io.EOF {
		return rep, hotline.Errorf(hotline.EINVALID, "the file is empty; the first line must name the columns (name, phone, committee, …)")
	} else if err != nil {
		return rep, hotline.Errorf(hotline.EINVALID, "the header line cannot be read: %v", err)
	}
	cols, names, err := readHeader(header)
	if err != nil {
		return rep, err
	}
	var rows []row
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			rep.Rows++
			rep.reject(RowError{Line: pe.StartLine, Reason: "the line is not valid CSV: " + pe.Err.Error()})
			continue
		} else if err != nil {
			return ImportReport{}, hotline.Errorf(hotline.EINVALID, "the file could not be read: %v", err)
		}
		line, _ := cr.FieldPos(0)
		if blank(rec) {
			continue
		}
		rep.Rows++
		if rep.Rows > MaxImportRows {
			return ImportReport{}, hotline.Errorf(hotline.EINVALID, "the file has more than %d rows; split it into several files", MaxImportRows)
		}
		rows = append(rows, row{line: line, fields: rec})
	}

	seen := make(map[string]int, len(rows)) // phone → line first seen
	for len(rows) > 0 {
		chunk := rows[:min(len(rows), importChunk)]
		rows = rows[len(chunk):]
		if err := s.importChunk(ctx, chunk, cols, names, seen, &rep); err != nil {
			return rep, err
		}
	}
	// Phone errors are found before the rest of a row: report in file order.
	slices.SortStableFunc(rep.Rejected, func(a, b RowError) int { return a.Line - b.Line })
	s.logger().Info("volunteers imported", "by", u.ID, "rows", rep.Rows, "created", rep.Created,
		"updated", rep.Updated, "unchanged", rep.Unchanged, "rejected", rep.RejectedRows)
	return rep, nil
}

func (rep *ImportReport) reject(e ...RowError) {
	rep.RejectedRows++
	for _, x := range e {
		if len(rep.Rejected) < maxRejected {
			rep.Rejected = append(rep.Rejected, x)
		}
	}
}

func blank(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// readHeader maps each column code to its index and keeps the names the
// file gives them (for the report).
func readHeader(header []string) (map[string]int, map[string]string, error) {
	cols, names := map[string]int{}, map[string]string{}
	var unknown []string
	for i, h := range header {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		code, ok := lookupTerm(Columns, h)
		if !ok {
			code, ok = columnAliases[h]
		}
		if !ok {
			if c, found := lookupTerm(Columns, strings.ReplaceAll(h, " ", "_")); found {
				code, ok = c, true
			}
		}
		if !ok {
			unknown = append(unknown, h)
			continue
		}
		if _, dup := cols[code]; dup {
			return nil, nil, hotline.Errorf(hotline.EINVALID, "the column %q appears twice in the header", h)
		}
		cols[code], names[code] = i, h
	}
	if len(unknown) > 0 {
		var known []string
		for _, c := range Columns {
			known = append(known, c.Code+" ("+c.NameZH+")")
		}
		return nil, nil, hotline.Errorf(hotline.EINVALID, "unknown column %q in the header; the columns are %s",
			clip(strings.Join(unknown, ", "), 80), strings.Join(known, ", "))
	}
	for _, need := range []string{"name", "phone", "committee"} {
		if _, ok := cols[need]; !ok {
			return nil, nil, hotline.Errorf(hotline.EINVALID, "the header has no %s column (%s); it is required",
				need, termName(Columns, need, "zh"))
		}
	}
	return cols, names, nil
}

// splitList splits a list cell on ";" (also the full-width "；", "、"
// and ","), dropping empty items.
func splitList(s string) []string {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == '；' || r == '、' || r == ',' || r == '，' })
	out := f[:0]
	for _, x := range f {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// unescapeCell undoes Export's guard against spreadsheet formulas: a cell
// that would start with = + - @ is written with a leading apostrophe.
func unescapeCell(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 1 && s[0] == '\'' && strings.ContainsRune("=+-@", rune(s[1])) {
		return s[1:]
	}
	return s
}

func escapeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@", rune(s[0])) {
		return "'" + s
	}
	return s
}

// parsed is a row validated into a volunteer.
type parsed struct {
	row
	v *hotline.Volunteer
}

func (s *Service) importChunk(ctx context.Context, chunk []row, cols map[string]int, names map[string]string,
	seen map[string]int, rep *ImportReport) error {
	cell := func(r row, code string) string {
		i, ok := cols[code]
		if !ok || i >= len(r.fields) {
			return ""
		}
		return unescapeCell(r.fields[i])
	}
	var ok []parsed
	var phones []string
	for _, r := range chunk {
		phone, err := intake.NormalizePhone(cell(r, "phone"))
		if err != nil {
			rep.reject(RowError{Line: r.line, Column: names["phone"], Reason: strings.TrimPrefix(hotline.ErrorMessage(err), "phone: ")})
			continue
		}
		if first, dup := seen[phone]; dup {
			rep.reject(RowError{Line: r.line, Column: names["phone"], Reason: fmt.Sprintf("the same phone number as line %d; keep one row per volunteer", first)})
			continue
		}
		seen[phone] = r.line
		ok = append(ok, parsed{row: r})
		phones = append(phones, phone)
	}
	stored, err := s.Store.VolunteersByPhone(ctx, phones)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	var puts []*hotline.Volunteer
	var putRows []parsed
	for i, p := range ok {
		prev := stored[phones[i]]
		v := &hotline.Volunteer{Status: hotline.VolunteerApproved, Source: "import", CreatedAt: now, UpdatedAt: now}
		if prev != nil {
			c := *prev
			v = &c
		}
		prof := Profile{
			RegistrationForm: RegistrationForm{
				Name: cell(p.row, "name"), Phone: phones[i], Committee: cell(p.row, "committee"),
				Address: cell(p.row, "address"), Skills: splitList(cell(p.row, "skills")),
				Languages: splitList(cell(p.row, "languages")), Availability: cell(p.row, "availability"),
				Groups: splitList(cell(p.row, "groups")),
			},
			Classification: cell(p.row, "classification"),
			Notes:          cell(p.row, "notes"),
		}
		for _, q := range splitList(cell(p.row, "qualifications")) {
			kind, exp, _ := strings.Cut(strings.Replace(q, "：", ":", 1), ":")
			prof.Qualifications = append(prof.Qualifications, QualificationInput{Kind: kind, Expires: exp})
		}
		fe := hotline.FieldErrors{}
		if mt := cell(p.row, "max_tasks"); mt != "" {
			n, err := strconv.Atoi(mt)
			if err != nil {
				fe.Add("max_tasks", "give a whole number of tasks, like 2 (empty for the default)")
			}
			prof.MaxTasks = n
		} else if _, has := cols["max_tasks"]; !has && prev != nil {
			prof.MaxTasks = prev.MaxTasks
		}
		if _, has := cols["notes"]; !has && prev != nil {
			prof.Notes = prev.Notes
		}
		if _, has := cols["classification"]; !has && prev != nil {
			prof.Classification = prev.Classification
		}
		s.apply(v, prof, true, fe)
		if st := cell(p.row, "status"); st != "" {
			if code, found := lookupTerm(Statuses, st); found {
				v.Status = hotline.VolunteerStatus(code)
			} else {
				fe.Add("status", fmt.Sprintf("unknown status %q; use one of %s", clip(st, 40), codes(Statuses)))
			}
		}
		if len(fe) > 0 {
			rep.reject(rowErrors(p.line, fe, names)...)
			continue
		}
		if prev != nil && sameProfile(prev, v) {
			rep.Unchanged++
			continue
		}
		if prev != nil {
			v.UpdatedAt = now
		}
		puts = append(puts, v)
		putRows = append(putRows, p)
	}
	if len(puts) == 0 {
		return nil
	}
	errs, err := s.Store.PutVolunteers(ctx, puts)
	if err != nil {
		return err
	}
	for i, e := range errs {
		switch {
		case e == nil && puts[i].Version == 1:
			rep.Created++
		case e == nil:
			rep.Updated++
		default:
			col := ""
			if hotline.ErrorCode(e) == hotline.ECONFLICT {
				col = names["phone"]
			}
			rep.reject(RowError{Line: putRows[i].line, Column: col, Reason: hotline.ErrorMessage(e)})
		}
	}
	return nil
}

// rowErrors turns a row's field errors into report lines, in column order.
func rowErrors(line int, fe hotline.FieldErrors, names map[string]string) []RowError {
	var out []RowError
	for _, c := range Columns {
		if msg, ok := fe[c.Code]; ok {
			col := names[c.Code]
			if col == "" {
				col = c.Code
			}
			out = append(out, RowError{Line: line, Column: col, Reason: msg})
		}
	}
	return out
}

// sameProfile reports whether two volunteers agree on every field a CSV
// row carries (and what follows from them: the point).
func sameProfile(a, b *hotline.Volunteer) bool {
	return a.Name == b.Name && a.Phone == b.Phone && a.Committee == b.Committee && a.Address == b.Address &&
		a.Lat == b.Lat && a.Long == b.Long &&
		slices.Equal(a.Skills, b.Skills) && slices.Equal(a.Languages, b.Languages) && slices.Equal(a.Groups, b.Groups) &&
		slices.EqualFunc(a.Qualifications, b.Qualifications, func(x, y hotline.Qualification) bool {
			return x.Kind == y.Kind && x.Expires.Equal(y.Expires)
		}) &&
		a.Availability == b.Availability && a.Status == b.Status && a.Classification == b.Classification &&
		a.MaxTasks == b.MaxTasks && a.Notes == b.Notes
}

// exportPage is how many volunteers Export reads per store call.
const exportPage = 1000

// Export writes the volunteers f selects (all of them: f's Offset and
// Limit are ignored) as CSV with the columns Import reads, in UTF-8 with a
// BOM so that Excel shows the Chinese right. Importing the file changes
// nothing. Phones of +86 are written as 11 digits (a spreadsheet would
// take "+86…" for a formula). Errors: EFORBIDDEN, EUNAVAILABLE.
func (s *Service) Export(ctx context.Context, u *hotline.User, w io.Writer, f hotline.VolunteerFilter) error {
	if !CanManage(u) {
		return hotline.Errorf(hotline.EFORBIDDEN, "only social workers and administrators can export volunteers")
	}
	if _, err := io.WriteString(w, "\xef\xbb\xbf"); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	header := make([]string, len(Columns))
	for i, c := range Columns {
		header[i] = c.Code
	}
	if err := cw.Write(header); err != nil {
		return err
	}
	f.Limit = exportPage
	for off := 0; ; off += exportPage {
		f.Offset = off
		vs, total, err := s.Store.FindVolunteers(ctx, f)
		if err != nil {
			return err
		}
		for _, v := range vs {
			if err := cw.Write(exportRow(v)); err != nil {
				return err
			}
		}
		if len(vs) == 0 || off+exportPage >= total {
			break
		}
	}
	cw.Flush()
	return cw.Error()
}

func exportRow(v *hotline.Volunteer) []string {
	var quals []string
	for _, q := range v.Qualifications {
		if q.Expires.IsZero() {
			quals = append(quals, q.Kind)
			continue
		}
		// Stored as the first instant it is no longer valid; written as
		// the last day it is.
		last := q.Expires.In(dispatch.Shanghai).AddDate(0, 0, -1)
		quals = append(quals, q.Kind+":"+last.Format(dateLayout))
	}
	phone := v.Phone
	if strings.HasPrefix(phone, "+86") {
		phone = phone[3:]
	}
	mt := ""
	if v.MaxTasks > 0 {
		mt = strconv.Itoa(v.MaxTasks)
	}
	return []string{
		escapeCell(v.Name), escapeCell(phone), v.Committee, escapeCell(v.Address),
		strings.Join(v.Skills, ";"), strings.Join(quals, ";"), strings.Join(v.Languages, ";"),
		v.Availability, strings.Join(v.Groups, ";"), string(v.Status), v.Classification, mt, escapeCell(v.Notes),
	}
}
