package open311

import (
	"encoding/xml"
	"net/http"
	"strings"
)

// changeset is the date this endpoint's behaviour last changed; clients
// compare it to decide whether to re-read the service list. Bump it when
// the served fields change.
const changeset = "2025-01-01T00:00:00+08:00"

// specURL names the specification this endpoint implements.
const specURL = "http://wiki.open311.org/GeoReport_v2"

type discovery struct {
	XMLName    xml.Name   `json:"-" xml:"discovery"`
	Changeset  string     `json:"changeset" xml:"changeset"`
	Contact    string     `json:"contact" xml:"contact"`
	KeyService string     `json:"key_service" xml:"key_service"`
	Endpoints  []endpoint `json:"endpoints" xml:"endpoints>endpoint"`
}

type endpoint struct {
	Specification string   `json:"specification" xml:"specification"`
	URL           string   `json:"url" xml:"url"`
	Changeset     string   `json:"changeset" xml:"changeset"`
	Type          string   `json:"type" xml:"type"`
	Formats       []string `json:"formats" xml:"formats>format"`
}

func (h *Handler) handleDiscovery(w http.ResponseWriter, r *http.Request, f format) {
	if err := h.allow(r, "read", readLimit); err != nil {
		h.fail(w, r, f, err)
		return
	}
	d := discovery{
		Changeset:  changeset,
		Contact:    "曹家渡街道社区生活服务中心 / Caojiadu Street community life service center",
		KeyService: "API keys for filing requests are issued by the street's community life service center",
		Endpoints: []endpoint{{
			Specification: specURL,
			URL:           strings.TrimRight(h.BaseURL, "/") + strings.TrimSuffix(Prefix, "/"),
			Changeset:     changeset,
			Type:          "production",
			Formats:       []string{"text/xml", "application/json"},
		}},
	}
	h.write(w, f, http.StatusOK, d, d)
}
