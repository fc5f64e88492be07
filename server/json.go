package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/caojiadu/hotline"
)

// readJSONObject reads the body as one JSON object and returns its members
// undecoded, so each field can be checked on its own and every wrong field
// reported at once (encoding/json stops at the first). Unknown members are
// ignored: a newer page may send more than this server knows.
func readJSONObject(r *http.Request) (map[string]json.RawMessage, error) {
	body, err := readBody(r)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, tooLarge
		}
		return nil, hotline.Errorf(hotline.EINVALID, "could not read the request body")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var m map[string]json.RawMessage
	if err := dec.Decode(&m); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, hotline.Errorf(hotline.EINVALID, "request body is not valid JSON: the body must be a JSON object")
		}
		if errors.Is(err, io.EOF) {
			return nil, hotline.Errorf(hotline.EINVALID, "request body is not valid JSON: the body is empty")
		}
		return nil, hotline.Errorf(hotline.EINVALID, "request body is not valid JSON: %v", err)
	}
	if m == nil {
		return nil, hotline.Errorf(hotline.EINVALID, "request body is not valid JSON: the body must be a JSON object, not null")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, hotline.Errorf(hotline.EINVALID, "request body is not valid JSON: unexpected data after the object")
	}
	return m, nil
}

// readBody reads the whole body into a buffer sized by Content-Length when
// the client sent one (io.ReadAll grows its buffer from 512 bytes). The
// size is only a hint: limitBody has already refused a larger one, and a
// body that does not match it is read to its end all the same.
func readBody(r *http.Request) ([]byte, error) {
	n := r.ContentLength
	if n <= 0 || n > 1<<20 {
		return io.ReadAll(r.Body)
	}
	b := make([]byte, 0, n+1) // +1: the read that sees EOF needs room
	for {
		m, err := r.Body.Read(b[len(b):cap(b)])
		b = b[:len(b)+m]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// decodeJSON reads the body as a JSON object into v (a pointer to a struct
// of plain fields), reporting a wrongly typed field by its name.
func decodeJSON(r *http.Request, v any) error {
	m, err := readJSONObject(r)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(m) // re-encode of valid members cannot fail
	if err := json.Unmarshal(b, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return fieldError(typeErr.Field, "must be "+jsonKind(typeErr.Type.Kind().String()))
		}
		return hotline.Errorf(hotline.EINVALID, "request body is not valid JSON: %v", err)
	}
	return nil
}

func jsonKind(goKind string) string {
	switch {
	case goKind == "string":
		return "a string"
	case goKind == "bool":
		return "true or false"
	case strings.HasPrefix(goKind, "int"), strings.HasPrefix(goKind, "uint"), strings.HasPrefix(goKind, "float"):
		return "a number"
	}
	return "of another type"
}

func fieldError(field, msg string) error {
	fe := hotline.FieldErrors{}
	fe.Add(field, msg)
	return fe.Err()
}

// The field readers below take one member of a readJSONObject map. A
// missing member or JSON null is the zero value; a wrong type adds a
// message for the field to fe.

func stringField(m map[string]json.RawMessage, name string, fe hotline.FieldErrors) string {
	raw, ok := m[name]
	if !ok || isNull(raw) {
		return ""
	}
	if s, ok := plainString(raw); ok {
		return s
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		fe.Add(name, "must be a string")
	}
	return s
}

// plainString decodes a JSON string with nothing to unescape or replace
// (no backslash, no control character, valid UTF-8), which is what forms
// send, without the decoder's machinery; it gives what json.Unmarshal
// would. ok is false for anything else, which the caller decodes in full.
func plainString(raw json.RawMessage) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	body := raw[1 : len(raw)-1]
	for _, c := range body {
		if c == '\\' || c == '"' || c < 0x20 {
			return "", false
		}
	}
	if !utf8.Valid(body) {
		return "", false
	}
	return string(body), true
}

func boolField(m map[string]json.RawMessage, name string, fe hotline.FieldErrors) bool {
	raw, ok := m[name]
	if !ok || isNull(raw) {
		return false
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		fe.Add(name, "must be true or false")
	}
	return b
}

// floatField accepts a number or a numeric string ("31.2365"): form
// libraries and map widgets send coordinates either way. An empty string
// is "not given", like a missing member.
func floatField(m map[string]json.RawMessage, name string, fe hotline.FieldErrors) *float64 {
	raw, ok := m[name]
	if !ok || isNull(raw) {
		return nil
	}
	var f float64
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		s = strings.TrimSpace(s)
		if s == "" {
			return nil
		}
		f, err = strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			fe.Add(name, fmt.Sprintf("must be a number, like %s", exampleCoordinate(name)))
			return nil
		}
		return &f
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		fe.Add(name, fmt.Sprintf("must be a number, like %s", exampleCoordinate(name)))
		return nil
	}
	return &f
}

func exampleCoordinate(name string) string {
	if name == "lat" {
		return "31.2365"
	}
	return "121.4252"
}

func isNull(raw json.RawMessage) bool {
	return string(bytes.TrimSpace(raw)) == "null"
}
