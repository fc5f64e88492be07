package network

import (
	"io"
	"strings"

	"github.com/caojiadu/hotline"
)

// LoadGazetteer reads the gazetteer: CSV with the header
// road,from,to,parity,committee. Empty from and to mean the whole road.
// Parity is empty (both sides), odd or even; 单 and 双 are read as odd and
// even. Whether committees exist needs the units; see Load and Validate.
// Errors: EINVALID naming the line and field.
func LoadGazetteer(r io.Reader) ([]hotline.GazetteerEntry, error) {
	const name = "gazetteer.csv"
	data, err := readAll(r, name)
	if err != nil {
		return nil, err
	}
	entries, _, err := decodeGazetteer(data, name)
	return entries, err
}

var gazetteerColumns = []string{"road", "from", "to", "parity", "committee"}

// parityWords maps what an administrator may write to the two values
// CommitteeForAddress knows. Street offices say 单号/双号 for the sides.
var parityWords = map[string]string{
	"": "", "all": "", "both": "", "全": "", "全部": "",
	"odd": "odd", "单": "odd", "单号": "odd",
	"even": "even", "双": "even", "双号": "even",
}

func decodeGazetteer(data []byte, name string) ([]hotline.GazetteerEntry, []string, error) {
	var p problems
	var entries []hotline.GazetteerEntry
	var where []string
	err := readCSV(data, name, gazetteerColumns, []string{"road", "committee"}, &p, func(line string, get func(string) string) {
		g := hotline.GazetteerEntry{
			Road:      get("road"),
			From:      parseInt(&p, line, "from", get("from")),
			To:        parseInt(&p, line, "to", get("to")),
			Committee: get("committee"),
		}
		parity, ok := parityWords[strings.ToLower(get("parity"))]
		if !ok {
			p.add(line, "parity %q must be empty (both sides), odd or even", get("parity"))
		}
		g.Parity = parity
		entries = append(entries, g)
		where = append(where, line)
	})
	if err != nil {
		return nil, nil, err
	}
	checkGazetteer(&p, entries, &sources{gazetteerFile: name, gazetteer: where})
	if err := p.err(); err != nil {
		return nil, nil, err
	}
	return entries, where, nil
}
