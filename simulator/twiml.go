package simulator

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// verb is one TwiML verb of a <Response>, with its attributes and what it
// holds: the words of a <Say>, the URL of a <Redirect> or <Play>, the body
// of a <Message>, and the verbs nested in a <Gather>.
type verb struct {
	Name     string
	Attrs    map[string]string
	Text     string // all character data inside, nested SSML included, trimmed
	Children []verb
}

func (v verb) attr(name string) string { return v.Attrs[name] }

// attrInt reads a numeric attribute, def when absent or unreadable.
func (v verb) attrInt(name string, def int) int {
	s := strings.TrimSpace(v.Attrs[name])
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return def
	}
	return n
}

// maxTwiML bounds a webhook answer the simulator reads. Twilio's own limit
// is 64 kB of TwiML.
const maxTwiML = 64 << 10

// parseTwiML reads a TwiML document: a <Response> whose children are
// verbs. Anything else is an error a developer can act on, as Twilio
// would play "an application error has occurred" for it.
func parseTwiML(body []byte) ([]verb, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errors.New("the answer is empty, not TwiML")
	}
	d := xml.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil, errors.New("no <Response> element in the answer")
		}
		if err != nil {
			return nil, fmt.Errorf("the answer is not well-formed XML: %v", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if se.Name.Local != "Response" {
			return nil, fmt.Errorf("the answer's root element is <%s>, not <Response>", se.Name.Local)
		}
		root, err := readVerb(d, se, 0)
		if err != nil {
			return nil, fmt.Errorf("the answer is not well-formed XML: %v", err)
		}
		return root.Children, nil
	}
}

// readVerb reads the element se up to its end. depth bounds nesting, so a
// hostile document cannot exhaust the stack.
func readVerb(d *xml.Decoder, se xml.StartElement, depth int) (verb, error) {
	if depth > 16 {
		return verb{}, errors.New("elements nested too deeply")
	}
	v := verb{Name: se.Name.Local, Attrs: map[string]string{}}
	for _, a := range se.Attr {
		v.Attrs[a.Name.Local] = a.Value
	}
	var text strings.Builder
	for {
		tok, err := d.Token()
		if err != nil {
			return verb{}, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			c, err := readVerb(d, t, depth+1)
			if err != nil {
				return verb{}, err
			}
			v.Children = append(v.Children, c)
			// SSML inside <Say> (<say-as>, <prosody>, <break>…) is part
			// of what is said.
			// Spacing comes from the document: Chinese has none between
			// words.
			text.WriteString(c.Text)
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			v.Text = strings.Join(strings.Fields(text.String()), " ")
			return v, nil
		}
	}
}

// messageBody is the text of a <Message>: its <Body> child when it has
// one, else its own text.
func messageBody(v verb) string {
	for _, c := range v.Children {
		if c.Name == "Body" {
			return c.Text
		}
	}
	return v.Text
}
