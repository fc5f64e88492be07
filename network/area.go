package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/caojiadu/hotline"
)

// LoadAreas reads committee areas from a GeoJSON FeatureCollection of
// Polygon and MultiPolygon features whose properties.unit_id names the
// committee; a MultiPolygon becomes one Area per polygon. Whether the
// unit_ids are committees needs the units; see Load and Validate. Errors:
// EINVALID naming the feature (or line, for broken JSON) and the problem.
func LoadAreas(r io.Reader) ([]hotline.Area, error) {
	const name = "areas.geojson"
	data, err := readAll(r, name)
	if err != nil {
		return nil, err
	}
	areas, _, err := decodeAreas(data, name)
	return areas, err
}

// geoPosition is read as numbers in text so that a null or a missing
// coordinate is an error, not a silent zero.
type geoPosition []json.Number

type geoFeature struct {
	Type     string `json:"type"`
	Geometry *struct {
		Type        string          `json:"type"`
		Coordinates json.RawMessage `json:"coordinates"`
	} `json:"geometry"`
	Properties map[string]json.RawMessage `json:"properties"`
}

func decodeAreas(data []byte, name string) ([]hotline.Area, []string, error) {
	var fc struct {
		Type     string       `json:"type"`
		Features []geoFeature `json:"features"`
	}
	if err := json.Unmarshal(data, &fc); err != nil {
		return nil, nil, jsonError(data, name, err)
	}
	if fc.Type != "FeatureCollection" {
		return nil, nil, hotline.Errorf(hotline.EINVALID, `%s: type is %q; the file must be a GeoJSON "FeatureCollection"`, name, fc.Type)
	}
	var p problems
	var areas []hotline.Area
	var where []string
	for i, f := range fc.Features {
		at := fmt.Sprintf("%s feature #%d", name, i+1)
		var id string
		if raw, ok := f.Properties["unit_id"]; !ok {
			p.add(at, "properties.unit_id is missing; it names the committee")
			continue
		} else if err := json.Unmarshal(raw, &id); err != nil {
			p.add(at, "properties.unit_id must be a string such as \"c01\", not %s", raw)
			continue
		}
		at += fmt.Sprintf(" (unit_id %q)", id)
		if f.Type != "Feature" {
			p.add(at, `type is %q, not "Feature"`, f.Type)
			continue
		}
		if f.Geometry == nil {
			p.add(at, "geometry is missing")
			continue
		}
		var polys [][][]geoPosition
		switch f.Geometry.Type {
		case "Polygon":
			var poly [][]geoPosition
			if err := json.Unmarshal(f.Geometry.Coordinates, &poly); err != nil {
				p.add(at, "coordinates are not a Polygon's list of rings of [long, lat] points")
				continue
			}
			polys = [][][]geoPosition{poly}
		case "MultiPolygon":
			if err := json.Unmarshal(f.Geometry.Coordinates, &polys); err != nil {
				p.add(at, "coordinates are not a MultiPolygon's list of polygons")
				continue
			}
		default:
			p.add(at, "geometry type %q is not Polygon or MultiPolygon", f.Geometry.Type)
			continue
		}
		for k, poly := range polys {
			pat := at
			if f.Geometry.Type == "MultiPolygon" {
				pat = fmt.Sprintf("%s polygon #%d", at, k+1)
			}
			polygon, ok := toPolygon(&p, pat, poly)
			if !ok {
				continue
			}
			a := hotline.Area{UnitID: id, Polygon: polygon}
			checkAreas(&p, []hotline.Area{a}, &sources{areas: []string{pat}})
			areas = append(areas, a)
			where = append(where, pat)
		}
		if len(p.list) > maxProblems {
			break
		}
	}
	if err := p.err(); err != nil {
		return nil, nil, err
	}
	return areas, where, nil
}

func toPolygon(p *problems, where string, rings [][]geoPosition) (hotline.Polygon, bool) {
	out := make(hotline.Polygon, len(rings))
	for r, ring := range rings {
		out[r] = make([]hotline.Point, len(ring))
		for k, pos := range ring {
			// A third number is an altitude, which GeoJSON allows and the
			// hotline ignores.
			if len(pos) != 2 && len(pos) != 3 {
				p.add(where, "ring #%d point #%d has %d numbers; a point is [long, lat]", r+1, k+1, len(pos))
				return nil, false
			}
			for c := 0; c < 2; c++ {
				v, err := strconv.ParseFloat(string(pos[c]), 64)
				if err != nil {
					p.add(where, "ring #%d point #%d: %q is not a number", r+1, k+1, pos[c])
					return nil, false
				}
				out[r][k][c] = v
			}
		}
	}
	return out, true
}

// jsonError turns a decoding error into a message with the line, since the
// JSON decoder only reports a byte offset.
func jsonError(data []byte, name string, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return &hotline.Error{Code: hotline.EINVALID, Message: fmt.Sprintf("%s line %d: not valid JSON: %v", name, lineOf(data, se.Offset), se)}
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "the top level"
		}
		return &hotline.Error{Code: hotline.EINVALID, Message: fmt.Sprintf("%s line %d: %s should be a %s, not a JSON %s", name, lineOf(data, te.Offset), field, jsonKind(te.Type.Kind().String()), te.Value)}
	}
	return &hotline.Error{Code: hotline.EINVALID, Message: fmt.Sprintf("%s: %v", name, err)}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "slice", "array":
		return "list"
	case "struct", "map":
		return "object"
	}
	return goKind
}

// FeatureCollection is the committee areas as GeoJSON, the shape web maps
// read directly.
type FeatureCollection struct {
	Type     string    `json:"type"` // always "FeatureCollection"
	Features []Feature `json:"features"`
}

// Feature is one committee area. A committee with several areas has one
// feature per area.
type Feature struct {
	Type       string         `json:"type"` // always "Feature"
	Geometry   Geometry       `json:"geometry"`
	Properties AreaProperties `json:"properties"`
}

// Geometry is always a Polygon: [long, lat] points, outer ring first.
type Geometry struct {
	Type        string          `json:"type"`
	Coordinates hotline.Polygon `json:"coordinates"`
}

// AreaProperties names the committee an area belongs to.
type AreaProperties struct {
	UnitID string `json:"unit_id"`
	NameZH string `json:"name_zh"`
	NameEN string `json:"name_en"`
}

// AreasGeoJSON renders n's committee areas as a FeatureCollection, the
// "areas" of GET /api/v1/units. LoadAreas reads it back unchanged. The
// polygons are shared with n, which callers treat as read-only anyway.
func AreasGeoJSON(n *hotline.Network) FeatureCollection {
	fc := FeatureCollection{Type: "FeatureCollection", Features: []Feature{}}
	if n == nil {
		return fc
	}
	for _, a := range n.Areas {
		u, _ := n.Unit(a.UnitID)
		fc.Features = append(fc.Features, Feature{
			Type:       "Feature",
			Geometry:   Geometry{Type: "Polygon", Coordinates: a.Polygon},
			Properties: AreaProperties{UnitID: a.UnitID, NameZH: u.NameZH, NameEN: u.NameEN},
		})
	}
	return fc
}
