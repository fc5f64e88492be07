package open311

import (
	"encoding/xml"
	"net/http"
	"strings"

	"github.com/caojiadu/hotline"
)

// service is one catalogue category as GeoReport v2 lists it.
type service struct {
	XMLName     xml.Name `json:"-" xml:"service"`
	ServiceCode string   `json:"service_code" xml:"service_code"`
	ServiceName string   `json:"service_name" xml:"service_name"`
	Description *string  `json:"description" xml:"description"`
	// Metadata is always false: no category has extra attributes, the
	// description field carries everything.
	Metadata bool    `json:"metadata" xml:"metadata"`
	Type     string  `json:"type" xml:"type"`
	Keywords *string `json:"keywords" xml:"keywords"`
	Group    *string `json:"group" xml:"group"`
}

type servicesXML struct {
	XMLName  xml.Name  `xml:"services"`
	Services []service `xml:"service"`
}

// serviceDefinition is the answer to services/{code}. Attributes is empty
// but present: the schema requires the array.
type serviceDefinition struct {
	XMLName     xml.Name    `json:"-" xml:"service_definition"`
	ServiceCode string      `json:"service_code" xml:"service_code"`
	Attributes  []attribute `json:"attributes" xml:"attributes>attribute"`
}

type attribute struct {
	Variable    bool   `json:"variable" xml:"variable"`
	Code        string `json:"code" xml:"code"`
	Datatype    string `json:"datatype" xml:"datatype"`
	Required    bool   `json:"required" xml:"required"`
	Description string `json:"description" xml:"description"`
}

func serviceOf(c hotline.Category, lang string) service {
	s := service{
		ServiceCode: c.Code,
		ServiceName: c.Name(lang),
		Type:        "realtime", // a ticket exists as soon as the POST answers
		Description: optional(categoryDescription(c, lang)),
		Keywords:    optional(strings.Join(c.Keywords, ",")),
		Group:       optional(c.Group),
	}
	return s
}

func categoryDescription(c hotline.Category, lang string) string {
	if lang == "en" && c.DescriptionEN != "" {
		return c.DescriptionEN
	}
	if c.DescriptionZH != "" {
		return c.DescriptionZH
	}
	return c.DescriptionEN
}

func (h *Handler) handleServiceList(w http.ResponseWriter, r *http.Request, f format) {
	q := r.URL.Query()
	if err := h.allow(r, "read", readLimit); err != nil {
		h.fail(w, r, f, err)
		return
	}
	if err := h.checkJurisdiction(q.Get("jurisdiction_id")); err != nil {
		h.fail(w, r, f, err)
		return
	}
	_, cat := h.directory()
	lang := locale(r, q.Get("locale"))
	list := make([]service, 0, len(cat.Categories))
	for _, c := range cat.Categories {
		list = append(list, serviceOf(c, lang))
	}
	h.write(w, f, http.StatusOK, list, servicesXML{Services: list})
}

func (h *Handler) handleServiceDefinition(w http.ResponseWriter, r *http.Request, f format, code string) {
	q := r.URL.Query()
	if err := h.allow(r, "read", readLimit); err != nil {
		h.fail(w, r, f, err)
		return
	}
	if err := h.checkJurisdiction(q.Get("jurisdiction_id")); err != nil {
		h.fail(w, r, f, err)
		return
	}
	_, cat := h.directory()
	c, ok := cat.Find(code)
	if !ok {
		h.fail(w, r, f, hotline.Errorf(hotline.ENOTFOUND, "unknown service_code %q; see %sservices.json", clip(code, 64), Prefix))
		return
	}
	d := serviceDefinition{ServiceCode: c.Code, Attributes: []attribute{}}
	h.write(w, f, http.StatusOK, d, d)
}

// optional turns "" into a JSON null (and an absent XML element).
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
