package network_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/network"
)

// square is a ring around (lat, long) with half-width d degrees, in GeoJSON
// [long, lat] order.
func square(lat, long, d float64) string {
	b, _ := json.Marshal([][2]float64{
		{long - d, lat - d}, {long + d, lat - d}, {long + d, lat + d}, {long - d, lat + d}, {long - d, lat - d}})
	return string(b)
}

func featureCollection(features ...string) string {
	return `{"type": "FeatureCollection", "features": [` + strings.Join(features, ",\n") + "]}"
}

func polygonFeature(unitID string, rings ...string) string {
	return `{"type": "Feature", "properties": {"unit_id": "` + unitID + `", "name_zh": "甲"},
 "geometry": {"type": "Polygon", "coordinates": [` + strings.Join(rings, ",") + `]}}`
}

func TestLoadAreas(t *testing.T) {
	text := featureCollection(
		polygonFeature("c01", square(31.24, 121.43, 0.001), square(31.24, 121.43, 0.0002)),
		`{"type": "Feature", "properties": {"unit_id": "c02"}, "geometry": {"type": "MultiPolygon", "coordinates": [
		  [`+square(31.235, 121.43, 0.001)+`],
		  [[[121.439,31.234,12],[121.441,31.234,12],[121.441,31.236,12],[121.439,31.236,12],[121.439,31.234,12]]]]}}`,
	)
	areas, err := network.LoadAreas(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(areas), 3; got != want {
		t.Fatalf("got %d areas, want %d (a MultiPolygon gives one area per polygon)", got, want)
	}
	n := &hotline.Network{Units: []hotline.Unit{{ID: "c01"}, {ID: "c02"}}, Areas: areas}
	for _, tc := range []struct {
		lat, long float64
		want      string
	}{
		{31.2405, 121.4305, "c01"},
		{31.24, 121.43, ""}, // inside c01's hole
		{31.235, 121.43, "c02"},
		{31.235, 121.44, "c02"}, // the second polygon, whose points carried an altitude
		{31.25, 121.43, ""},
	} {
		if got, _ := n.CommitteeAt(tc.lat, tc.long); got.ID != tc.want {
			t.Errorf("CommitteeAt(%v, %v): got %q, want %q", tc.lat, tc.long, got.ID, tc.want)
		}
	}
}

func TestLoadAreas_Refusals(t *testing.T) {
	ring := square(31.24, 121.43, 0.001)
	for _, tc := range []struct {
		name  string
		text  string
		wants []string
	}{
		{"not JSON", "{\n\"type\": \"FeatureCollection\",\n\"features\": [,]}", []string{"areas.geojson line 3", "not valid JSON"}},
		{"wrong JSON shape", `{"type": "FeatureCollection", "features": {}}`, []string{"areas.geojson line 1", "features should be a list"}},
		{"not a collection", `{"type": "Feature"}`, []string{`type is "Feature"`, "FeatureCollection"}},
		{"no unit_id", featureCollection(`{"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [` + ring + `]}}`),
			[]string{"areas.geojson feature #1", "properties.unit_id is missing"}},
		{"numeric unit_id", featureCollection(`{"type": "Feature", "properties": {"unit_id": 7}, "geometry": {"type": "Polygon", "coordinates": [` + ring + `]}}`),
			[]string{"feature #1", "unit_id must be a string"}},
		{"point geometry", featureCollection(`{"type": "Feature", "properties": {"unit_id": "c01"}, "geometry": {"type": "Point", "coordinates": [121.43, 31.24]}}`),
			[]string{`feature #1 (unit_id "c01")`, `geometry type "Point" is not Polygon or MultiPolygon`}},
		{"no geometry", featureCollection(`{"type": "Feature", "properties": {"unit_id": "c01"}, "geometry": null}`), []string{"geometry is missing"}},
		{"open ring", featureCollection(polygonFeature("c01", "[[121.42,31.23],[121.43,31.23],[121.43,31.24],[121.42,31.24]]")),
			[]string{`feature #1 (unit_id "c01")`, "outer ring is not closed"}},
		{"too few points", featureCollection(polygonFeature("c01", "[[121.42,31.23],[121.43,31.23],[121.42,31.23]]")),
			[]string{"outer ring has 3 points; a ring needs at least 4"}},
		{"no rings", featureCollection(polygonFeature("c01")), []string{"the polygon has no rings"}},
		{"flat ring", featureCollection(polygonFeature("c01", "[[121.42,31.23],[121.43,31.23],[121.44,31.23],[121.42,31.23]]")),
			[]string{"outer ring encloses no area"}},
		{"lat and long swapped", featureCollection(polygonFeature("c01", "[[31.23,121.42],[31.23,121.43],[31.24,121.43],[31.23,121.42]]")),
			[]string{"point #1", "look swapped"}},
		{"null coordinate", featureCollection(polygonFeature("c01", "[[121.42,null],[121.43,31.23],[121.43,31.24],[121.42,31.23]]")),
			[]string{"ring #1 point #1", "is not a number"}},
		{"one-number point", featureCollection(polygonFeature("c01", "[[121.42],[121.43,31.23],[121.43,31.24],[121.42,31.23]]")),
			[]string{"ring #1 point #1 has 1 numbers"}},
		{"bad hole", featureCollection(polygonFeature("c01", ring, "[[121.42,31.23],[121.43,31.23]]")),
			[]string{"hole #1 has 2 points"}},
		{"bad second polygon", featureCollection(`{"type": "Feature", "properties": {"unit_id": "c02"}, "geometry": {"type": "MultiPolygon", "coordinates": [[` + ring + `], [[[1,2]]]]}}`),
			[]string{`feature #1 (unit_id "c02") polygon #2`, "1 points"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			areas, err := network.LoadAreas(strings.NewReader(tc.text))
			wantInvalid(t, err, tc.wants...)
			if areas != nil {
				t.Errorf("got %d areas with the error, want none", len(areas))
			}
		})
	}
}

func TestAreasGeoJSON_RoundTrip(t *testing.T) {
	n, _ := network.Demo()
	b, err := json.Marshal(network.AreasGeoJSON(n))
	if err != nil {
		t.Fatal(err)
	}
	got, err := network.LoadAreas(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if want := n.Areas; !reflect.DeepEqual(got, want) {
		t.Errorf("areas changed on the way round:\n got  %v\n want %v", got, want)
	}

	// The map in the browser reads these names; keep them stable.
	var fc struct {
		Type     string `json:"type"`
		Features []struct {
			Type       string            `json:"type"`
			Properties map[string]string `json:"properties"`
			Geometry   struct {
				Type string `json:"type"`
			} `json:"geometry"`
		} `json:"features"`
	}
	if err := json.Unmarshal(b, &fc); err != nil {
		t.Fatal(err)
	}
	if fc.Type != "FeatureCollection" || len(fc.Features) != 14 {
		t.Fatalf("got type %q with %d features", fc.Type, len(fc.Features))
	}
	f := fc.Features[0]
	want := map[string]string{"unit_id": "c01", "name_zh": "叶家宅路居委会", "name_en": "Yejiazhai Road Neighbourhood Committee"}
	if f.Type != "Feature" || f.Geometry.Type != "Polygon" || !reflect.DeepEqual(f.Properties, want) {
		t.Errorf("first feature: got %+v, want properties %v", f, want)
	}
}

func TestAreasGeoJSON_Empty(t *testing.T) {
	for _, n := range []*hotline.Network{nil, {}} {
		b, err := json.Marshal(network.AreasGeoJSON(n))
		if err != nil {
			t.Fatal(err)
		}
		// An empty list, not null, so that map code can loop without a check.
		if got, want := string(b), `{"type":"FeatureCollection","features":[]}`; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
}

func FuzzLoadAreas(f *testing.F) {
	ring := square(31.24, 121.43, 0.001)
	f.Add([]byte(readFile(f, "demo/areas.geojson")))
	f.Add([]byte(featureCollection(polygonFeature("c01", ring, square(31.24, 121.43, 0.0002)))))
	f.Add([]byte(featureCollection(`{"type": "Feature", "properties": {"unit_id": "c02"}, "geometry": {"type": "MultiPolygon", "coordinates": [[` + ring + `], [[[1,2]]]]}}`)))
	f.Add([]byte(featureCollection(polygonFeature("c01", "[[121.42,null],[1e400,31.23],[\"x\",31.24],[121.42,31.23,0,0]]"))))
	f.Add([]byte(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":null,"geometry":{"type":"Polygon","coordinates":null}}]}`))
	f.Add([]byte(`[[[[[[[[[[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		areas, err := network.LoadAreas(bytes.NewReader(data))
		if err != nil {
			if code := hotline.ErrorCode(err); code != hotline.EINVALID {
				t.Fatalf("got code %q (%v), want %q", code, err, hotline.EINVALID)
			}
			return
		}
		for i, a := range areas {
			if a.UnitID == "" || len(a.Polygon) == 0 {
				t.Fatalf("area %d: %+v", i, a)
			}
			for _, ring := range a.Polygon {
				if len(ring) < 4 || ring[0] != ring[len(ring)-1] {
					t.Fatalf("area %d has a ring that is short or open: %v", i, ring)
				}
			}
			a.Polygon.Contains(31.24, 121.43) // must not panic
		}
	})
}
