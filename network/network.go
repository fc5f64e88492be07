// Package network loads the three-tier service network (units, committee
// areas, gazetteer) and the service catalogue from the files a street
// administrator edits, checks them, and carries an embedded demo street
// modelled on Caojiadu. README.md in this directory describes the file
// formats; demo/ holds example files to copy.
//
// Every loader refuses bad input with a *hotline.Error of code EINVALID
// whose message names the file, the line or item, and the field.
package network

//go:generate go run ./internal/demogen -dir demo

import (
	"bytes"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/caojiadu/hotline"
)

//go:embed demo/units.toml demo/units.csv demo/areas.geojson demo/gazetteer.csv demo/catalogue.toml
var demo embed.FS

// DemoFiles returns the embedded demo files (demo/units.toml,
// demo/units.csv, demo/areas.geojson, demo/gazetteer.csv,
// demo/catalogue.toml), for a command that writes them out as a starting
// point for an administrator.
func DemoFiles() fs.FS { return demo }

// Files names the files to load. An empty name means the embedded demo's
// file for that part.
type Files struct {
	Units     string // .toml or .csv
	Areas     string // .geojson or .json
	Gazetteer string // .csv
	Catalogue string // .toml
}

// maxFileSize bounds what a loader reads: the real files are a few hundred
// kilobytes at most, and a wrong path (a log, a disk image) should fail
// quickly instead of filling memory.
const maxFileSize = 16 << 20

// Load reads, parses and validates the files. Errors: EINVALID for a file
// that cannot be read, has an unknown extension or fails validation; the
// message names the file and line.
func Load(files Files) (*hotline.Network, *hotline.Catalogue, error) {
	src := &sources{}
	n := &hotline.Network{}
	var c *hotline.Catalogue

	data, name, err := open(files.Units, "demo/units.toml")
	if err != nil {
		return nil, nil, err
	}
	src.unitsFile = name
	switch ext(name) {
	case ".toml":
		n.Units, src.units, err = decodeUnitsTOML(data, name)
	case ".csv":
		n.Units, src.units, err = decodeUnitsCSV(data, name)
	default:
		err = hotline.Errorf(hotline.EINVALID, "%s: units must be a .toml or .csv file", name)
	}
	if err != nil {
		return nil, nil, err
	}

	if data, name, err = open(files.Areas, "demo/areas.geojson"); err != nil {
		return nil, nil, err
	}
	src.areasFile = name
	switch ext(name) {
	case ".geojson", ".json":
		n.Areas, src.areas, err = decodeAreas(data, name)
	default:
		err = hotline.Errorf(hotline.EINVALID, "%s: areas must be a .geojson or .json file", name)
	}
	if err != nil {
		return nil, nil, err
	}

	if data, name, err = open(files.Gazetteer, "demo/gazetteer.csv"); err != nil {
		return nil, nil, err
	}
	src.gazetteerFile = name
	if ext(name) != ".csv" {
		return nil, nil, hotline.Errorf(hotline.EINVALID, "%s: the gazetteer must be a .csv file", name)
	}
	if n.Gazetteer, src.gazetteer, err = decodeGazetteer(data, name); err != nil {
		return nil, nil, err
	}

	if data, name, err = open(files.Catalogue, "demo/catalogue.toml"); err != nil {
		return nil, nil, err
	}
	src.catalogueFile = name
	if ext(name) != ".toml" {
		return nil, nil, hotline.Errorf(hotline.EINVALID, "%s: the catalogue must be a .toml file", name)
	}
	if c, src.categories, err = decodeCatalogue(data, name); err != nil {
		return nil, nil, err
	}

	if err := validate(n, c, src); err != nil {
		return nil, nil, err
	}
	return n, c, nil
}

// Demo returns the embedded demo street: a fresh copy each call, so a
// caller may change it without touching anyone else's.
func Demo() (*hotline.Network, *hotline.Catalogue) {
	n, c, err := Load(Files{})
	if err != nil {
		// The demo is embedded and checked by the tests; failing here is a
		// bug in this package, not a runtime condition.
		panic("network: embedded demo is invalid: " + err.Error())
	}
	return n, c
}

func ext(name string) string { return strings.ToLower(filepath.Ext(name)) }

// open reads path, or the embedded demo file when path is empty. The name
// it returns is what messages call the file: the base name, which an
// administrator recognises and which picks the format.
func open(path, demoPath string) ([]byte, string, error) {
	if path == "" {
		data, err := demo.ReadFile(demoPath)
		if err != nil {
			return nil, "", hotline.Internal(err)
		}
		return data, filepath.Base(demoPath), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, "", &hotline.Error{Code: hotline.EINVALID, Message: fmt.Sprintf("cannot open %s: %v", path, unwrapPath(err))}
	}
	defer f.Close()
	data, err := readAll(f, filepath.Base(path))
	return data, filepath.Base(path), err
}

// unwrapPath drops the path from an *fs.PathError, which the message
// already names.
func unwrapPath(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}

func readAll(r io.Reader, name string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return nil, &hotline.Error{Code: hotline.EINVALID, Message: fmt.Sprintf("%s: cannot read: %v", name, err)}
	}
	if len(data) > maxFileSize {
		return nil, hotline.Errorf(hotline.EINVALID, "%s: larger than %d MiB; is it the right file?", name, maxFileSize>>20)
	}
	// Spreadsheet programs and Windows editors start UTF-8 files with a
	// byte order mark, which would otherwise stick to the first column
	// name or make the TOML and JSON parsers fail.
	return bytes.TrimPrefix(data, []byte("\ufeff")), nil
}

// lineOf returns the 1-based line of byte offset off in data.
func lineOf(data []byte, off int64) int {
	if off < 0 {
		off = 0
	}
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	return bytes.Count(data[:off], []byte("\n")) + 1
}
