package llmsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// An answer is built as a tree of values before it is written, so that one
// writer can give it the key order and layout a model would: object (keys
// in the order of wire format v2 unless the request's schema says
// otherwise), []any, string, unsure (a string the model is unsure of) and
// int.

// member is one key and value of an object.
type member struct {
	key string
	val any
}

// object is a JSON object whose members are written in the order given.
type object []member

// get returns the value of key, nil if it has none.
func (o object) get(key string) any {
	for _, m := range o {
		if m.key == key {
			return m.val
		}
	}
	return nil
}

// with returns a copy of o with key set to val (appended when o has no
// such key).
func (o object) with(key string, val any) object {
	out := slices.Clone(o)
	for i := range out {
		if out[i].key == key {
			out[i].val = val
			return out
		}
	}
	return append(out, member{key, val})
}

// unsure is a string the model chose with low confidence (a label changed
// by noise): its tokens get low log probabilities.
type unsure string

// writer writes an answer tree as JSON: compact, or indented by two spaces
// as small open models often write it; with the keys of each object in the
// order of the request's JSON schema when it has one to follow. It records
// the byte ranges of unsure strings.
type writer struct {
	b      strings.Builder
	indent bool
	low    [][2]int
}

// write writes v, whose schema is sch (nil: the default key order).
func (w *writer) write(v any, sch *schemaNode, depth int) {
	switch v := v.(type) {
	case object:
		w.object(v, sch, depth)
	case []any:
		w.b.WriteByte('[')
		if len(v) > 0 {
			var items *schemaNode
			if sch != nil {
				items = sch.items
			}
			for i, x := range v {
				if i > 0 {
					w.b.WriteByte(',')
				}
				w.newline(depth + 1)
				w.write(x, items, depth+1)
			}
			w.newline(depth)
		}
		w.b.WriteByte(']')
	case unsure:
		q := quote(string(v))
		start := w.b.Len() + 1
		w.b.WriteString(q)
		w.low = append(w.low, [2]int{start, w.b.Len() - 1})
	case string:
		w.b.WriteString(quote(v))
	case int:
		w.b.WriteString(strconv.Itoa(v))
	default:
		panic(fmt.Sprintf("llmsim: cannot write %T", v)) // a bug in an answer's builder
	}
}

func (w *writer) object(o object, sch *schemaNode, depth int) {
	sch = sch.branch(o)
	if sch != nil && len(sch.props) > 0 {
		o = slices.Clone(o)
		rank := func(key string) int {
			if i := slices.Index(sch.props, key); i >= 0 {
				return i
			}
			return len(sch.props) // keys the schema does not list go last
		}
		slices.SortStableFunc(o, func(a, b member) int { return rank(a.key) - rank(b.key) })
	}
	w.b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			w.b.WriteByte(',')
		}
		w.newline(depth + 1)
		w.b.WriteString(quote(m.key))
		w.b.WriteByte(':')
		if w.indent {
			w.b.WriteByte(' ')
		}
		w.write(m.val, sch.prop(m.key), depth+1)
	}
	if len(o) > 0 {
		w.newline(depth)
	}
	w.b.WriteByte('}')
}

func (w *writer) newline(depth int) {
	if w.indent {
		w.b.WriteByte('\n')
		w.b.WriteString(strings.Repeat("  ", depth))
	}
}

// quote writes s as a JSON string, without escaping HTML as models don't.
func quote(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimRight(buf.String(), "\n")
}

// schemaNode is what the simulator reads of a JSON schema: the properties
// of an object in the order the schema lists them, the schema of array
// items, the branches of anyOf or oneOf, and string enums. References
// ($ref) are not followed.
type schemaNode struct {
	props []string
	sub   map[string]*schemaNode
	items *schemaNode
	anyOf []*schemaNode
	enum  []string
}

// parseSchema reads a JSON schema, keeping the order of its properties,
// which encoding/json's maps would lose. It returns nil for no schema.
func parseSchema(raw json.RawMessage) (*schemaNode, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	n, err := readNode(dec)
	if err != nil {
		return nil, fmt.Errorf("reading the response format's schema: %w", err)
	}
	return n, nil
}

// readNode reads one schema from dec: an object gives a node, any other
// value (true, false) is read and gives nil.
func readNode(dec *json.Decoder) (*schemaNode, error) {
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if t != json.Delim('{') {
		return nil, skipRest(dec, t)
	}
	n := &schemaNode{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := t.(string)
		switch key {
		case "properties":
			if err := readProperties(dec, n); err != nil {
				return nil, fmt.Errorf("properties: %w", err)
			}
		case "items":
			if n.items, err = readNode(dec); err != nil {
				return nil, fmt.Errorf("items: %w", err)
			}
		case "anyOf", "oneOf":
			if err := expect(dec, json.Delim('[')); err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			for dec.More() {
				b, err := readNode(dec)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", key, err)
				}
				if b != nil {
					n.anyOf = append(n.anyOf, b)
				}
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
		case "enum":
			var vals []any
			if err := dec.Decode(&vals); err != nil {
				return nil, fmt.Errorf("enum: %w", err)
			}
			for _, v := range vals {
				if s, ok := v.(string); ok {
					n.enum = append(n.enum, s)
				}
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
		}
	}
	_, err = dec.Token() // the closing brace
	return n, err
}

// readProperties reads a "properties" object into n, in order.
func readProperties(dec *json.Decoder, n *schemaNode) error {
	if err := expect(dec, json.Delim('{')); err != nil {
		return err
	}
	n.sub = make(map[string]*schemaNode)
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := t.(string)
		c, err := readNode(dec)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if _, dup := n.sub[name]; !dup {
			n.props = append(n.props, name)
		}
		n.sub[name] = c
	}
	_, err := dec.Token()
	return err
}

func expect(dec *json.Decoder, want json.Delim) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	if t != want {
		return fmt.Errorf("got %v, want %v", t, want)
	}
	return nil
}

// skipRest reads the rest of a value whose first token was t.
func skipRest(dec *json.Decoder, t json.Token) error {
	depth := 0
	for {
		switch t {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
		var err error
		if t, err = dec.Token(); err != nil {
			return err
		}
	}
}

// prop returns the schema of property key, nil if n does not list it.
func (n *schemaNode) prop(key string) *schemaNode {
	if n == nil {
		return nil
	}
	return n.sub[key]
}

// branch resolves anyOf for an object: the branch that lists all of its
// keys with the fewest others, else the one that lists most of them.
func (n *schemaNode) branch(o object) *schemaNode {
	if n == nil || len(n.anyOf) == 0 {
		return n
	}
	var best *schemaNode
	bestHit, bestExtra := -1, 0
	for _, b := range n.anyOf {
		b = b.branch(o)
		if b == nil || b.sub == nil {
			continue
		}
		hit := 0
		for _, m := range o {
			if _, ok := b.sub[m.key]; ok {
				hit++
			}
		}
		extra := len(b.props) - hit
		if hit > bestHit || hit == bestHit && extra < bestExtra {
			best, bestHit, bestExtra = b, hit, extra
		}
	}
	if best == nil {
		return n
	}
	return best
}

// lookup follows property names down from n, looking through array items
// and anyOf branches: lookup("passages", "entities", "label") finds the
// label of an anchor answer's entities.
func (n *schemaNode) lookup(path ...string) *schemaNode {
	if n == nil {
		return nil
	}
	if len(path) == 0 {
		return n
	}
	if c := n.sub[path[0]]; c != nil {
		if r := c.lookup(path[1:]...); r != nil {
			return r
		}
	}
	if r := n.items.lookup(path...); r != nil {
		return r
	}
	for _, b := range n.anyOf {
		if r := b.lookup(path...); r != nil {
			return r
		}
	}
	return nil
}

// enumAt returns the string enum at path, nil if there is none.
func (n *schemaNode) enumAt(path ...string) []string {
	var out []string
	if e := n.lookup(path...); e != nil {
		out = e.enum
		for _, b := range e.anyOf { // a nullable enum: anyOf [{"enum"}, {"type":"null"}]
			out = append(out, b.enum...)
		}
	}
	return out
}
