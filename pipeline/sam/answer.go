package sam

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/zeroner/zeroner/pipeline"
)

// decode parses an answer into v. A Markdown code fence around the JSON is
// tolerated, since some servers add one even in JSON mode; anything else
// around it is not.
func decode(content string, v any) error {
	s, _ := jsonBody(content)
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("not a JSON answer: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("text after the JSON answer")
	}
	return nil
}

// jsonBody returns the JSON of an answer, without white space or a code
// fence around it, and its byte offset in the answer.
func jsonBody(content string) (string, int) {
	s := strings.TrimLeft(content, " \t\r\n")
	off := len(content) - len(s)
	if rest, ok := strings.CutPrefix(s, "```"); ok {
		rest = strings.TrimPrefix(rest, "json")
		trimmed := strings.TrimLeft(rest, " \t\r\n")
		if body, ok := strings.CutSuffix(strings.TrimSpace(trimmed), "```"); ok {
			off += len(s) - len(trimmed)
			s = body
		}
	}
	return strings.TrimRight(s, " \t\r\n"), off
}

// id reads a 1-based id below or equal to n.
func id(n json.Number, max int) (int, error) {
	i, err := strconv.Atoi(string(n))
	if err != nil || i < 1 || i > max {
		return 0, fmt.Errorf("unknown id %q", string(n))
	}
	return i, nil
}

// found is a mention string from an extractor, with its occurrence (0 when
// not given).
type found struct {
	Text string
	Occ  int
}

func parseMention(raw json.RawMessage) (found, error) {
	raw = bytes.TrimSpace(raw)
	var f found
	switch {
	case len(raw) > 0 && raw[0] == '"':
		if err := json.Unmarshal(raw, &f.Text); err != nil {
			return f, err
		}
	case len(raw) > 0 && raw[0] == '{':
		var o struct {
			Text       *string      `json:"text"`
			Occurrence *json.Number `json:"occurrence"`
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&o); err != nil {
			return f, fmt.Errorf("mention %s: %w", raw, err)
		}
		if o.Text == nil {
			return f, fmt.Errorf("mention %s has no text", raw)
		}
		f.Text = *o.Text
		if o.Occurrence != nil {
			k, err := strconv.Atoi(string(*o.Occurrence))
			if err != nil || k < 1 {
				return f, fmt.Errorf("mention %s: occurrence is not a positive integer", raw)
			}
			f.Occ = k
		}
	default:
		return f, fmt.Errorf("mention %s is not a string", raw)
	}
	if strings.TrimSpace(f.Text) == "" {
		return f, errors.New("empty mention")
	}
	return f, nil
}

// parseDiscover reads an anchor or explorer answer for n passages into the
// mentions of each passage (by 1-based id). The anchor's entities are a
// list of {"label", "mentions"}; an object of label -> mentions is also
// taken. Labels must be the schema's, but go no further than validation.
func parseDiscover(content, kind string, n int, labels map[string]bool) (map[int][]found, error) {
	var a struct {
		Passages *[]struct {
			ID       json.Number       `json:"id"`
			Entities json.RawMessage   `json:"entities"`
			Mentions []json.RawMessage `json:"mentions"`
		} `json:"passages"`
	}
	if err := decode(content, &a); err != nil {
		return nil, err
	}
	if a.Passages == nil {
		return nil, errors.New(`no "passages" array`)
	}
	out := make(map[int][]found)
	for _, p := range *a.Passages {
		i, err := id(p.ID, n)
		if err != nil {
			return nil, fmt.Errorf("passage: %w", err)
		}
		if _, dup := out[i]; dup {
			return nil, fmt.Errorf("passage %d answered twice", i)
		}
		var fs []found
		add := func(raws []json.RawMessage) error {
			for _, r := range raws {
				f, err := parseMention(r)
				if err != nil {
					return fmt.Errorf("passage %d: %w", i, err)
				}
				fs = append(fs, f)
			}
			return nil
		}
		if kind == KindAnchor {
			groups, err := entityGroups(p.Entities)
			if err != nil {
				return nil, fmt.Errorf("passage %d: %w", i, err)
			}
			for _, g := range groups {
				if !labels[g.Label] {
					return nil, fmt.Errorf("passage %d: label %q is not in the schema", i, g.Label)
				}
				if err := add(g.Mentions); err != nil {
					return nil, err
				}
			}
		} else if err := add(p.Mentions); err != nil {
			return nil, err
		}
		out[i] = fs
	}
	return out, nil
}

type entityGroup struct {
	Label    string            `json:"label"`
	Mentions []json.RawMessage `json:"mentions"`
}

// entityGroups reads an anchor passage's entities: a list of groups, or an
// object of label -> mentions; absent or null is none.
func entityGroups(raw json.RawMessage) ([]entityGroup, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] == '{' {
		var m map[string][]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("entities: %w", err)
		}
		var gs []entityGroup
		for l, ms := range m {
			gs = append(gs, entityGroup{l, ms})
		}
		return gs, nil
	}
	var gs []entityGroup
	if err := json.Unmarshal(raw, &gs); err != nil {
		return nil, fmt.Errorf("entities: %w", err)
	}
	return gs, nil
}

// parseMediate reads archetypes by 1-based mention id.
func parseMediate(content string, n int) (map[int]pipeline.Archetype, error) {
	var a struct {
		Mentions *[]struct {
			ID        json.Number `json:"id"`
			Archetype string      `json:"archetype"`
		} `json:"mentions"`
	}
	if err := decode(content, &a); err != nil {
		return nil, err
	}
	if a.Mentions == nil {
		return nil, errors.New(`no "mentions" array`)
	}
	out := make(map[int]pipeline.Archetype)
	for _, m := range *a.Mentions {
		i, err := id(m.ID, n)
		if err != nil {
			return nil, fmt.Errorf("mention: %w", err)
		}
		if _, dup := out[i]; dup {
			return nil, fmt.Errorf("mention %d answered twice", i)
		}
		arch := pipeline.Archetype(m.Archetype)
		if !arch.Valid() {
			return nil, fmt.Errorf("mention %d: %q is not an archetype", i, m.Archetype)
		}
		out[i] = arch
	}
	return out, nil
}

// calibrated is one label choice and where its value lies in the answer, for
// scoring from log probabilities.
type calibrated struct {
	Label      string
	Start, End int // byte range of the label's value (without quotes) in the answer; End 0 if unknown
}

// parseCalibrate reads labels by 1-based mention id; cands[i-1] are mention
// i's candidates.
func parseCalibrate(content string, cands [][]string) (map[int]calibrated, error) {
	var a struct {
		Mentions *[]struct {
			ID    json.Number `json:"id"`
			Label string      `json:"label"`
		} `json:"mentions"`
	}
	if err := decode(content, &a); err != nil {
		return nil, err
	}
	if a.Mentions == nil {
		return nil, errors.New(`no "mentions" array`)
	}
	out := make(map[int]calibrated)
	for _, m := range *a.Mentions {
		i, err := id(m.ID, len(cands))
		if err != nil {
			return nil, fmt.Errorf("mention: %w", err)
		}
		if _, dup := out[i]; dup {
			return nil, fmt.Errorf("mention %d answered twice", i)
		}
		ok := false
		for _, c := range cands[i-1] {
			ok = ok || c == m.Label
		}
		if !ok {
			return nil, fmt.Errorf("mention %d: label %q is not among its candidates %v", i, m.Label, cands[i-1])
		}
		out[i] = calibrated{Label: m.Label}
	}
	labelRanges(content, out)
	return out, nil
}

// labelRanges finds the byte range of each mention's "label" value in the
// content by walking its JSON tokens; it leaves the ranges unset if the walk
// fails (the scores then fall back).
func labelRanges(content string, out map[int]calibrated) {
	content, off := jsonBody(content)
	dec := json.NewDecoder(strings.NewReader(content))
	dec.UseNumber()
	var (
		depth   int
		key     string
		isKey   bool // the next string at this depth is a key
		stack   []bool
		curID   int
		curFrom int
		curTo   int
	)
	for {
		before := int(dec.InputOffset())
		tok, err := dec.Token()
		if err != nil {
			return
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				stack = append(stack, true)
				depth++
				isKey = true
				if depth == 3 {
					curID, curFrom, curTo = 0, 0, 0
				}
			case '[':
				stack = append(stack, false)
				depth++
			case '}', ']':
				if t == '}' && depth == 3 && curID > 0 && curTo > 0 {
					if c, ok := out[curID]; ok {
						c.Start, c.End = curFrom, curTo
						out[curID] = c
					}
				}
				stack = stack[:len(stack)-1]
				depth--
				isKey = len(stack) > 0 && stack[len(stack)-1]
			}
			continue
		}
		inObj := len(stack) > 0 && stack[len(stack)-1]
		if inObj && isKey {
			key, _ = tok.(string)
			isKey = false
			continue
		}
		if inObj {
			isKey = true
		}
		if depth != 3 {
			continue
		}
		switch key {
		case "id":
			if n, ok := tok.(json.Number); ok {
				curID, _ = strconv.Atoi(string(n))
			}
		case "label":
			end := int(dec.InputOffset())
			seg := content[before:end]
			if q := strings.IndexByte(seg, '"'); q >= 0 && end-1 > before+q {
				curFrom, curTo = off+before+q+1, off+end-1
			}
		}
	}
}

// parseLabelMap reads label -> archetypes for the asked labels.
func parseLabelMap(content string, asked map[string]bool) (map[string][]pipeline.Archetype, error) {
	var a struct {
		Labels map[string][]string `json:"labels"`
	}
	if err := decode(content, &a); err != nil {
		return nil, err
	}
	if a.Labels == nil {
		return nil, errors.New(`no "labels" object`)
	}
	out := make(map[string][]pipeline.Archetype)
	for l, as := range a.Labels {
		if !asked[l] {
			return nil, fmt.Errorf("label %q was not asked", l)
		}
		for _, s := range as {
			arch := pipeline.Archetype(s)
			if !arch.Valid() {
				return nil, fmt.Errorf("label %q: %q is not an archetype", l, s)
			}
			out[l] = append(out[l], arch)
		}
	}
	return out, nil
}
