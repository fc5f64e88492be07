package network

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/caojiadu/hotline"
)

// LoadUnits reads units in format "toml" ([[unit]] tables) or "csv" (a
// header row naming the columns) and checks them on their own: ids, kinds,
// tiers, parents, points. Whether their categories exist and committees have
// areas needs the other files; see Load and Validate. A missing tier is
// taken from the kind. Errors: EINVALID naming the line and field.
func LoadUnits(r io.Reader, format string) ([]hotline.Unit, error) {
	format = strings.TrimPrefix(strings.ToLower(format), ".")
	name := "units." + format
	data, err := readAll(r, name)
	if err != nil {
		return nil, err
	}
	var units []hotline.Unit
	switch format {
	case "toml":
		units, _, err = decodeUnitsTOML(data, name)
	case "csv":
		units, _, err = decodeUnitsCSV(data, name)
	default:
		return nil, hotline.Errorf(hotline.EINVALID, "unknown units format %q; use toml or csv", format)
	}
	return units, err
}

// decodeUnitsTOML returns the units and, for each, where it is in the file.
func decodeUnitsTOML(data []byte, name string) ([]hotline.Unit, []string, error) {
	var f struct {
		Unit []hotline.Unit `toml:"unit"`
	}
	if err := decodeTOML(data, name, "unit", &f); err != nil {
		return nil, nil, err
	}
	where := tableLines(data, "unit", name, len(f.Unit))
	for i := range f.Unit {
		u := &f.Unit[i]
		if u.ID != "" {
			where[i] += fmt.Sprintf(" (unit %q)", u.ID)
		}
		if u.Tier == 0 {
			u.Tier = u.Kind.Tier()
		}
	}
	var p problems
	checkUnits(&p, f.Unit, &sources{unitsFile: name, units: where})
	if err := p.err(); err != nil {
		return nil, nil, err
	}
	return f.Unit, where, nil
}

var tomlLine = regexp.MustCompile(`^toml: line (\d+) \(last key ("[^"]*")\): (.*)$`)

// decodeTOML decodes strictly: a key the hotline does not know is almost
// always a typo ("catgories") that would otherwise be dropped in silence.
// table is the name of the file's [[table]] array, for placing errors.
func decodeTOML(data []byte, name, table string, v any) error {
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(v)
	if err != nil {
		line, key, msg := tomlErrorParts(err)
		var pe toml.ParseError
		if !errors.As(err, &pe) {
			// A type error ("tier" = "two") comes with the line of the
			// key's last use in the file, which for a key every table has
			// is the last table's. Decoding the tables one at a time finds
			// the one at fault.
			if l, k, m, ok := locateTOMLError(data, table, reflect.TypeOf(v).Elem()); ok {
				line, key, msg = l, k, m
			}
		}
		switch {
		case line > 0 && key != "":
			return hotline.Errorf(hotline.EINVALID, "%s line %d (key %s): %s", name, line, key, msg)
		case line > 0:
			return hotline.Errorf(hotline.EINVALID, "%s line %d: %s", name, line, msg)
		}
		return hotline.Errorf(hotline.EINVALID, "%s: %s", name, msg)
	}
	if keys := md.Undecoded(); len(keys) > 0 {
		var p problems
		for _, k := range keys {
			p.add(name, "unknown key %q", k.String())
		}
		return p.err()
	}
	return nil
}

// tomlErrorParts splits a decoding error into line (0 if unknown), quoted
// key (may be empty) and message.
func tomlErrorParts(err error) (int, string, string) {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		key := ""
		if pe.LastKey != "" {
			key = strconv.Quote(pe.LastKey)
		}
		return pe.Position.Line, key, pe.Message
	}
	if m := tomlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return line, m[2], m[3]
	}
	return 0, "", strings.TrimPrefix(err.Error(), "toml: ")
}

func locateTOMLError(data []byte, table string, typ reflect.Type) (line int, key, msg string, ok bool) {
	header := tableHeader(table)
	lines := bytes.Split(data, []byte("\n"))
	var starts []int
	for i, l := range lines {
		if header.Match(l) {
			starts = append(starts, i)
		}
	}
	for k, start := range starts {
		end := len(lines)
		if k+1 < len(starts) {
			end = starts[k+1]
		}
		chunk := bytes.Join(lines[start:end], []byte("\n"))
		if _, err := toml.NewDecoder(bytes.NewReader(chunk)).Decode(reflect.New(typ).Interface()); err != nil {
			l, key, msg := tomlErrorParts(err)
			if l > 0 {
				l += start
			}
			return l, key, msg, true
		}
	}
	return 0, "", "", false
}

func tableHeader(table string) *regexp.Regexp {
	return regexp.MustCompile(`^\s*\[\[\s*"?` + regexp.QuoteMeta(table) + `"?\s*\]\]`)
}

// tableLines finds the header line of each [[table]] in a TOML file, which
// the TOML decoder does not report. If the count disagrees with what was
// decoded (a header inside a multi-line string, say) it numbers the tables
// instead of guessing lines.
func tableLines(data []byte, table, name string, count int) []string {
	header := tableHeader(table)
	var lines []int
	for i, l := range bytes.Split(data, []byte("\n")) {
		if header.Match(l) {
			lines = append(lines, i+1)
		}
	}
	where := make([]string, count)
	for i := range where {
		if len(lines) == count {
			where[i] = fmt.Sprintf("%s line %d", name, lines[i])
		} else {
			where[i] = fmt.Sprintf("%s [[%s]] #%d", name, table, i+1)
		}
	}
	return where
}

var unitColumns = []string{"id", "kind", "tier", "name_zh", "name_en", "parent", "lat", "long",
	"categories", "phone", "address", "capacity", "hours"}

func decodeUnitsCSV(data []byte, name string) ([]hotline.Unit, []string, error) {
	var p problems
	var units []hotline.Unit
	var where []string
	err := readCSV(data, name, unitColumns, []string{"id", "kind", "name_zh"}, &p, func(line string, get func(string) string) {
		u := hotline.Unit{
			ID:       get("id"),
			Kind:     hotline.UnitKind(strings.ToLower(get("kind"))),
			NameZH:   get("name_zh"),
			NameEN:   get("name_en"),
			ParentID: get("parent"),
			Phone:    get("phone"),
			Address:  get("address"),
			Hours:    get("hours"),
		}
		u.Tier = hotline.Tier(parseInt(&p, line, "tier", get("tier")))
		if u.Tier == 0 {
			u.Tier = u.Kind.Tier()
		}
		u.Lat = parseFloat(&p, line, "lat", get("lat"))
		u.Long = parseFloat(&p, line, "long", get("long"))
		u.Capacity = parseInt(&p, line, "capacity", get("capacity"))
		u.Categories = splitList(get("categories"))
		units = append(units, u)
		where = append(where, line)
	})
	if err != nil {
		return nil, nil, err
	}
	checkUnits(&p, units, &sources{unitsFile: name, units: where})
	if err := p.err(); err != nil {
		return nil, nil, err
	}
	return units, where, nil
}

// readCSV reads a CSV file with a header row, calling row for each data row
// with its location ("units.csv line 7") and a getter by column name.
// Columns may come in any order; unknown and duplicate columns are refused
// because they usually mean a misspelt header. Lines starting with # are
// comments, and rows with every cell empty (spreadsheets write them) are
// skipped. Problems go to p; the error is for a file that cannot be read as
// CSV at all.
func readCSV(data []byte, name string, known, required []string, p *problems, row func(line string, get func(string) string)) error {
	r := csv.NewReader(bytes.NewReader(data))
	r.Comment = '#'
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	header, err := r.Read()
	if err == io.EOF {
		return hotline.Errorf(hotline.EINVALID, "%s: the file is empty; the first row must name the columns (%s)", name, strings.Join(known, ","))
	}
	if err != nil {
		return csvError(name, err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		switch {
		case !contains(known, h):
			p.add(name+" line 1", "unknown column %q (the columns are %s)", h, strings.Join(known, ","))
		case col[h] != 0:
			p.add(name+" line 1", "column %q appears twice", h)
		default:
			col[h] = i + 1 // 0 means absent
		}
	}
	for _, h := range required {
		if col[h] == 0 {
			p.add(name+" line 1", "column %q is missing", h)
		}
	}
	if !p.ok() {
		return nil
	}
	width := len(header)
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return csvError(name, err)
		}
		line, _ := r.FieldPos(0)
		where := fmt.Sprintf("%s line %d", name, line)
		blank := true
		for _, f := range rec {
			blank = blank && strings.TrimSpace(f) == ""
		}
		if blank {
			continue
		}
		if len(rec) != width {
			p.add(where, "%d cells, but the header has %d columns", len(rec), width)
			continue
		}
		row(where, func(h string) string {
			if i := col[h]; i != 0 {
				return strings.TrimSpace(rec[i-1])
			}
			return ""
		})
		if len(p.list) > maxProblems {
			return nil
		}
	}
}

func csvError(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &hotline.Error{Code: hotline.EINVALID, Message: fmt.Sprintf("%s line %d: %v", name, pe.Line, pe.Err)}
	}
	return &hotline.Error{Code: hotline.EINVALID, Message: fmt.Sprintf("%s: %v", name, err)}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// splitList splits a cell of codes. Both ; and | are accepted, and their
// full-width forms, which a Chinese input method types by default.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == '|' || r == '；' || r == '｜' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func parseFloat(p *problems, where, field, s string) float64 {
	if s == "" {
		return 0
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		p.add(where, "%s %q is not a number", field, s)
		return 0
	}
	return v
}

func parseInt(p *problems, where, field, s string) int {
	if s == "" {
		return 0
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		p.add(where, "%s %q is not a whole number", field, s)
		return 0
	}
	return v
}
