package sam

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"

	"github.com/zeroner/zeroner/pipeline"
)

// Answers are checked item by item: an answer whose shape is right (a JSON
// object with its list) is taken, each valid item of it is kept, and what is
// wrong with the others (an unknown or repeated id, an empty mention, a
// label outside the mention's choices) is reported as a problem. Only a
// wrong shape makes the whole answer invalid, so that the client re-asks
// it; a missing or invalid item is asked again on its own (see decide).

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

// decodeItem parses one item of an answer's list.
func decodeItem(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return dec.Decode(v)
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

// mentionItem is a mention as an answer gives it: a string, or an object
// with the string, maybe the occurrence and maybe the anchor's label.
type mentionItem struct {
	Text       *string      `json:"text"`
	Occurrence *json.Number `json:"occurrence"`
	Label      *string      `json:"label"`
	// Mentions is an anchor's entity in the grouped form {"label",
	// "mentions"}, taken too.
	Mentions []json.RawMessage `json:"mentions"`
}

// parseMention reads a mention string or object. An occurrence that is not
// a positive integer is ignored (every occurrence is meant then), with a
// note; an empty mention is an error.
func parseMention(raw json.RawMessage) (f found, note string, err error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) > 0 && raw[0] == '"':
		if err := json.Unmarshal(raw, &f.Text); err != nil {
			return f, "", err
		}
	case len(raw) > 0 && raw[0] == '{':
		var o mentionItem
		if err := decodeItem(raw, &o); err != nil {
			return f, "", fmt.Errorf("mention %s: %w", raw, err)
		}
		if o.Text == nil {
			return f, "", fmt.Errorf("mention %s has no text", raw)
		}
		f.Text = *o.Text
		f.Occ, note = occurrence(o.Occurrence)
	default:
		return f, "", fmt.Errorf("mention %s is not a string", raw)
	}
	if strings.TrimSpace(f.Text) == "" {
		return f, "", errors.New("empty mention")
	}
	return f, note, nil
}

// occurrence reads an occurrence index: absent, null or not a positive
// integer is 0 (every occurrence), the last two with a note.
func occurrence(n *json.Number) (int, string) {
	if n == nil {
		return 0, ""
	}
	k, err := strconv.Atoi(string(*n))
	if err != nil || k < 1 {
		return 0, fmt.Sprintf("occurrence %s ignored", string(*n))
	}
	return k, ""
}

// parseDiscover reads an anchor or explorer answer for n passages into the
// mentions of each passage (by 1-based id), and the problems of the items
// it dropped or repaired. The anchor's entities are a list of {"text",
// "occurrence", "label"}; the grouped forms {"label", "mentions"} and an
// object of label -> mentions are taken too. An anchor label outside the
// schema drops the mention. Only an answer without a "passages" list is an
// error.
func parseDiscover(content, kind string, n int, labels map[string]bool) (map[int][]found, []string, error) {
	var a struct {
		Passages *[]json.RawMessage `json:"passages"`
	}
	if err := decode(content, &a); err != nil {
		return nil, nil, err
	}
	if a.Passages == nil {
		return nil, nil, errors.New(`no "passages" array`)
	}
	out := make(map[int][]found)
	var probs []string
	for _, raw := range *a.Passages {
		var p struct {
			ID       json.Number       `json:"id"`
			Entities json.RawMessage   `json:"entities"`
			Mentions []json.RawMessage `json:"mentions"`
		}
		if err := decodeItem(raw, &p); err != nil {
			probs = append(probs, fmt.Sprintf("passage %s: %v", short(raw), err))
			continue
		}
		i, err := id(p.ID, n)
		if err != nil {
			probs = append(probs, "passage: "+err.Error())
			continue
		}
		if _, dup := out[i]; dup {
			probs = append(probs, fmt.Sprintf("passage %d answered twice: the first answer kept", i))
			continue
		}
		var fs []found
		add := func(raws []json.RawMessage) {
			for _, r := range raws {
				f, note, err := parseMention(r)
				if err != nil {
					probs = append(probs, fmt.Sprintf("passage %d: %v", i, err))
					continue
				}
				if note != "" {
					probs = append(probs, fmt.Sprintf("passage %d: %q: %s", i, f.Text, note))
				}
				fs = append(fs, f)
			}
		}
		if kind == KindAnchor {
			groups, err := entityGroups(p.Entities)
			if err != nil {
				probs = append(probs, fmt.Sprintf("passage %d: %v", i, err))
			}
			for _, g := range groups {
				if !labels[g.label] {
					probs = append(probs, fmt.Sprintf("passage %d: label %q is not in the schema", i, g.label))
					continue
				}
				add(g.mentions)
			}
		} else {
			add(p.Mentions)
		}
		out[i] = fs
	}
	return out, probs, nil
}

// entityGroup is mentions of one label in an anchor answer.
type entityGroup struct {
	label    string
	mentions []json.RawMessage
}

// entityGroups reads an anchor passage's entities: a list of entities (or
// of groups), or an object of label -> mentions; absent or null is none.
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
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("entities: %w", err)
	}
	var gs []entityGroup
	for _, it := range items {
		var e mentionItem
		if err := decodeItem(it, &e); err != nil || e.Label == nil {
			// Not an entity object: let parseMention say what is wrong.
			gs = append(gs, entityGroup{"", []json.RawMessage{it}})
			continue
		}
		if e.Mentions != nil {
			gs = append(gs, entityGroup{*e.Label, e.Mentions})
			continue
		}
		gs = append(gs, entityGroup{*e.Label, []json.RawMessage{it}})
	}
	return gs, nil
}

// item is one entry of a mediate or calibrate answer: an id, the echoed
// mention text (nil when not given), the decision, and its position in the
// answer's list.
type item struct {
	id    json.Number
	text  *string
	value string
	pos   int
}

// parseItems reads the "mentions" list of a mediate or calibrate answer;
// key names the decision ("archetype" or "label"). An entry that is not an
// object is a problem; only an answer without the list is an error.
func parseItems(content, key string) ([]item, []string, error) {
	var a struct {
		Mentions *[]json.RawMessage `json:"mentions"`
	}
	if err := decode(content, &a); err != nil {
		return nil, nil, err
	}
	if a.Mentions == nil {
		return nil, nil, errors.New(`no "mentions" array`)
	}
	var out []item
	var probs []string
	for pos, raw := range *a.Mentions {
		var m map[string]json.RawMessage
		if err := decodeItem(raw, &m); err != nil {
			probs = append(probs, fmt.Sprintf("item %s: not an object", short(raw)))
			continue
		}
		it := item{pos: pos}
		if err := decodeItem(m["id"], &it.id); err != nil {
			probs = append(probs, fmt.Sprintf("item %s: no id", short(raw)))
			continue
		}
		if t, ok := m["text"]; ok {
			var s string
			if json.Unmarshal(t, &s) == nil {
				it.text = &s
			}
		}
		if v, ok := m[key]; ok {
			_ = json.Unmarshal(v, &it.value) // a non-string is an empty decision: invalid below
		}
		out = append(out, it)
	}
	return out, probs, nil
}

// resolved is a decision taken from an answer for one mention.
type resolved struct {
	value string
	pos   int // the item's position in the answer's list
}

// resolveItems gives the asked mentions (texts[k] is mention k+1's text)
// their decisions from an answer's items. check normalises a decision for
// mention k+1, or says why it is not allowed. The echoed text repairs a
// model that lost count: an item whose text is not its id's mention goes to
// the nearest mention not yet answered that has that text; if none has, the
// id stands (the text was copied loosely), and an item with neither a known
// id nor a known text is dropped. A repeated id keeps the first answer.
func resolveItems(items []item, texts []string, check func(k int, v string) (string, error)) (map[int]resolved, []string) {
	out := make(map[int]resolved)
	var probs []string
	for _, it := range items {
		k, err := id(it.id, len(texts))
		if err != nil {
			if it.text == nil {
				probs = append(probs, "mention: "+err.Error())
				continue
			}
			k = 0 // place it by its text
		}
		if it.text != nil && (k == 0 || !sameText(*it.text, texts[k-1])) {
			switch near := nearest(texts, *it.text, k, out); {
			case near > 0:
				k = near
			case k == 0:
				probs = append(probs, fmt.Sprintf("mention %s: text %q is no mention asked", string(it.id), *it.text))
				continue
			}
			// Else the text was copied loosely: the id stands.
		}
		if _, dup := out[k]; dup {
			probs = append(probs, fmt.Sprintf("mention %d answered twice: the first answer kept", k))
			continue
		}
		v, err := check(k-1, it.value)
		if err != nil {
			probs = append(probs, fmt.Sprintf("mention %d (%q): %v", k, texts[k-1], err))
			continue
		}
		out[k] = resolved{value: v, pos: it.pos}
	}
	return out, probs
}

// nearest is the id of the mention with text t not yet in done that is
// closest to id k (0 when none).
func nearest(texts []string, t string, k int, done map[int]resolved) int {
	best, dist := 0, 0
	for j, s := range texts {
		if _, ok := done[j+1]; ok || !sameText(s, t) {
			continue
		}
		d := j + 1 - k
		if d < 0 {
			d = -d
		}
		if best == 0 || d < dist {
			best, dist = j+1, d
		}
	}
	return best
}

// sameText compares an echoed mention with the mention asked, ignoring
// white space, case and quote style, as a model copies text.
func sameText(a, b string) bool { return squash(a) == squash(b) }

func squash(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
		case strings.ContainsRune("‘’‚‛`´", r):
			b.WriteByte('\'')
		case strings.ContainsRune("“”„‟", r):
			b.WriteByte('"')
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// archetypeOf checks a mediate decision.
func archetypeOf(v string) (string, error) {
	a := pipeline.Archetype(strings.ToLower(strings.TrimSpace(v)))
	if !a.Valid() {
		return "", fmt.Errorf("%q is not an archetype", v)
	}
	return string(a), nil
}

// labelAmong checks a calibrate decision against the labels allowed. What
// a model gets slightly wrong is forgiven: case, white space, separators
// ("political party" for politicalparty) and a near spelling
// ("organization" for organisation: one edit, to a label of six letters
// or more, the only one that near).
func labelAmong(v string, allowed []string) (string, error) {
	key := func(s string) string {
		return strings.Map(func(r rune) rune {
			if unicode.IsSpace(r) || r == '_' || r == '-' {
				return -1
			}
			return unicode.ToLower(r)
		}, s)
	}
	k := key(v)
	near, best := "", 2
	for _, l := range allowed {
		switch d := editDistance(k, key(l)); {
		case d == 0:
			return l, nil
		case d < best && len(l) >= 6:
			near, best = l, d
		case d == best:
			near = "" // two labels as near: no guess
		}
	}
	if near != "" {
		return near, nil
	}
	return "", fmt.Errorf("label %q is not among %v", v, allowed)
}

// editDistance is the Levenshtein distance of two strings, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, sub)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// short is raw JSON cut for a message.
func short(raw json.RawMessage) string {
	s := string(bytes.TrimSpace(raw))
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// labelRanges finds the byte range of the "label" value of each item of a
// calibrate answer's list, by the item's position, walking the JSON tokens
// of the content; a range it cannot find is left out (the score then falls
// back).
func labelRanges(content string) map[int][2]int {
	out := make(map[int][2]int)
	content, off := jsonBody(content)
	dec := json.NewDecoder(strings.NewReader(content))
	dec.UseNumber()
	var (
		key   string
		isKey bool // the next string in this object is a key
		stack []bool
		pos   = -1 // position of the current item
	)
	for {
		before := int(dec.InputOffset())
		tok, err := dec.Token()
		if err != nil {
			return out
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{':
				stack = append(stack, true)
				isKey = true
				if len(stack) == 3 {
					pos++
				}
			case '[':
				stack = append(stack, false)
			case '}', ']':
				stack = stack[:len(stack)-1]
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
		if len(stack) != 3 || key != "label" || pos < 0 {
			continue
		}
		end := int(dec.InputOffset())
		seg := content[before:end]
		if q := strings.IndexByte(seg, '"'); q >= 0 && end-1 > before+q {
			out[pos] = [2]int{off + before + q + 1, off + end - 1}
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
