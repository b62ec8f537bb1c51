package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/zeroner/zeroner/pipeline/text"
	"gopkg.in/yaml.v3"
)

// Schema is a user's target entity schema: labels with one-sentence
// definitions. It is written as YAML or JSON:
//
//	name: crossner-ai
//	fallback: misc
//	labels:
//	  - name: researcher
//	    description: A person who does research in artificial intelligence.
//	    archetypes: [person]   # optional: compatible archetypes
//	    gazetteer: [Geoffrey Hinton, Yann LeCun]   # optional: known names, a discovery voter
//	examples:   # optional: annotated sentences
//	  - text: Geoffrey Hinton trained a neural network .
//	    entities:
//	      - {text: Geoffrey Hinton, label: researcher}
//	      - {text: neural network, label: algorithm}
type Schema struct {
	Name     string  `yaml:"name" json:"name"`
	Fallback string  `yaml:"fallback,omitempty" json:"fallback,omitempty"`
	Labels   []Label `yaml:"labels" json:"labels"`
	// Examples are a few sentences annotated with every entity they hold,
	// to show what the labels mean where a definition leaves doubt.
	Examples []Example `yaml:"examples,omitempty" json:"examples,omitempty"`
}

// Label is one target entity type.
type Label struct {
	Name        string `yaml:"name" json:"name"`
	Description string `yaml:"description" json:"description"`
	// Archetypes, when set, overrides the computed label -> archetype
	// compatibility used to narrow calibration candidates.
	Archetypes []Archetype `yaml:"archetypes,omitempty" json:"archetypes,omitempty"`
	// Gazetteer lists surface forms known to be of this label; the LLM
	// backend counts each word-boundary occurrence as a discovery vote.
	Gazetteer []string `yaml:"gazetteer,omitempty" json:"gazetteer,omitempty"`
}

// Example is a sentence with all its entities.
type Example struct {
	Text     string          `yaml:"text" json:"text"`
	Entities []ExampleEntity `yaml:"entities,omitempty" json:"entities,omitempty"`
}

// ExampleEntity is one entity of an example, found in its text as a model's
// mention is: by text.Find.
type ExampleEntity struct {
	Text  string `yaml:"text" json:"text"`
	Label string `yaml:"label" json:"label"`
	// Occurrence, when set, picks one of the word-boundary occurrences of
	// Text, counting from 1; otherwise every occurrence is the entity, as
	// with a model's mention that gives none.
	Occurrence int `yaml:"occurrence,omitempty" json:"occurrence,omitempty"`
}

// Spans returns the code point spans of e in the example's text: the
// occurrence it names, or every word-boundary occurrence when it names
// none. It is empty when e is not there.
func (x Example) Spans(e ExampleEntity) []text.Span {
	occ := text.Find(x.Text, e.Text)
	switch {
	case e.Occurrence == 0:
		return occ
	case e.Occurrence > 0 && e.Occurrence <= len(occ):
		return occ[e.Occurrence-1 : e.Occurrence]
	}
	return nil
}

// ParseSchema reads a schema from YAML or JSON (JSON is a subset of YAML) and
// validates it. Decoding is strict: a field the schema does not define (a
// typo such as "lables") is an error that names it and its line. The
// fallback label defaults to "misc" and is added to the labels if the file
// does not define it. Every error is one line.
func ParseSchema(data []byte) (*Schema, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse schema: %s", yamlError(err))
	}
	var s Schema
	if len(doc.Content) > 0 {
		root := doc.Content[0]
		if err := knownFields(root, reflect.TypeFor[Schema](), "the schema"); err != nil {
			return nil, err
		}
		if err := root.Decode(&s); err != nil {
			return nil, fmt.Errorf("parse schema: %s", yamlError(err))
		}
	}
	if s.Fallback == "" {
		s.Fallback = "misc"
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	if s.Label(s.Fallback) == nil {
		s.Labels = append(s.Labels, Label{
			Name:        s.Fallback,
			Description: "A named entity that fits none of the other labels.",
		})
	}
	return &s, nil
}

// knownFields reports the first mapping key under n that t (a struct, or a
// slice of structs, decoded from n) has no yaml field for; what names the
// value in the message. Values of the wrong kind are left to Decode.
func knownFields(n *yaml.Node, t reflect.Type, what string) error {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, item := range n.Content {
			w := what
			if name, ok := numbered(t.Elem(), what, i); ok {
				w = name
			}
			if err := knownFields(item, t.Elem(), w); err != nil {
				return err
			}
		}
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields, names := yamlFields(t)
		if t == reflect.TypeFor[Label]() {
			what = "a label"
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == "name" && n.Content[i+1].Kind == yaml.ScalarNode {
					what = fmt.Sprintf("label %q", n.Content[i+1].Value)
				}
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Tag == "!!merge" { // <<: *anchor merges the anchor's keys
				if err := knownFields(v, t, what); err != nil {
					return err
				}
				continue
			}
			ft, ok := fields[k.Value]
			if !ok {
				return fmt.Errorf("line %d: unknown field %q in %s (it has %s)", k.Line, k.Value, what, strings.Join(names, ", "))
			}
			sub := fmt.Sprintf("%s's %s", what, k.Value)
			if ft.Kind() == reflect.Slice {
				if _, ok := numbered(ft.Elem(), what, 0); ok {
					sub = what // its items name their owner themselves
				}
			}
			if err := knownFields(v, ft, sub); err != nil {
				return err
			}
		}
	}
	return nil
}

// numbered names item i of a list of t that owner holds, for the types
// that have no name of their own and are found by their place: examples
// and their entities.
func numbered(t reflect.Type, owner string, i int) (string, bool) {
	switch t {
	case reflect.TypeFor[Example]():
		return fmt.Sprintf("example %d", i+1), true
	case reflect.TypeFor[ExampleEntity]():
		return fmt.Sprintf("%s, entity %d", owner, i+1), true
	}
	return "", false
}

// yamlFields are the yaml keys of struct type t, with their types, and the
// keys in field order.
func yamlFields(t reflect.Type) (map[string]reflect.Type, []string) {
	fields := make(map[string]reflect.Type)
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = f.Type
		names = append(names, name)
	}
	return fields, names
}

// yamlError is err on one line: yaml's type errors list one problem per
// line.
func yamlError(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return "yaml: " + strings.Join(te.Errors, "; ")
	}
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}

func (s *Schema) validate() error {
	var errs []error
	if s.Name == "" {
		errs = append(errs, errors.New("schema has no name"))
	}
	if len(s.Labels) == 0 {
		errs = append(errs, errors.New("schema has no labels"))
	}
	seen := make(map[string]bool)
	for i, l := range s.Labels {
		switch {
		case strings.TrimSpace(l.Name) == "":
			errs = append(errs, fmt.Errorf("label %d has no name", i))
		case seen[l.Name]:
			errs = append(errs, fmt.Errorf("label %q is defined twice", l.Name))
		case strings.TrimSpace(l.Description) == "":
			errs = append(errs, fmt.Errorf("label %q has no description", l.Name))
		}
		seen[l.Name] = true
		for _, g := range l.Gazetteer {
			if strings.TrimSpace(g) == "" {
				errs = append(errs, fmt.Errorf("label %q: empty gazetteer entry", l.Name))
			}
		}
		for _, a := range l.Archetypes {
			if !a.Valid() {
				errs = append(errs, fmt.Errorf("label %q: unknown archetype %q", l.Name, a))
			}
		}
	}
	errs = append(errs, s.validateExamples()...)
	if len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		return fmt.Errorf("invalid schema %q: %s", s.Name, strings.Join(msgs, "; "))
	}
	return nil
}

// validateExamples checks that each example has text and that each of its
// entities has a label of the schema and is found in the text, as the
// pipeline would find a model's mention. Examples and entities are
// numbered from 1, as a reader counts them in the file.
func (s *Schema) validateExamples() []error {
	var errs []error
	for i, x := range s.Examples {
		ex := fmt.Sprintf("example %d", i+1)
		if strings.TrimSpace(x.Text) == "" {
			errs = append(errs, fmt.Errorf("%s has no text", ex))
			continue
		}
		seen := make(map[text.Span]int) // span -> the entity that has it
		for j, e := range x.Entities {
			what := fmt.Sprintf("%s, entity %d (%q)", ex, j+1, e.Text)
			if e.Label != s.Fallback && s.Label(e.Label) == nil {
				errs = append(errs, fmt.Errorf("%s: label %q is not in the schema", what, e.Label))
			}
			var bad string
			switch n := len(text.Find(x.Text, e.Text)); {
			case strings.TrimSpace(e.Text) == "":
				bad = "has no text"
			case strings.TrimSpace(e.Text) != e.Text:
				bad = "starts or ends with white space"
			case n == 0:
				bad = "is not in the text at word boundaries"
			case e.Occurrence < 0:
				bad = fmt.Sprintf("has occurrence %d, which is not positive", e.Occurrence)
			case e.Occurrence > n:
				bad = fmt.Sprintf("has occurrence %d, but the text has only %d", e.Occurrence, n)
			}
			if bad != "" {
				errs = append(errs, fmt.Errorf("%s %s", what, bad))
				continue
			}
			for _, sp := range x.Spans(e) {
				if k, ok := seen[sp]; ok {
					errs = append(errs, fmt.Errorf("%s has the same span as entity %d", what, k))
					break
				}
				seen[sp] = j + 1
			}
		}
	}
	return errs
}

// Label returns the label with the given name, or nil.
func (s *Schema) Label(name string) *Label {
	for i := range s.Labels {
		if s.Labels[i].Name == name {
			return &s.Labels[i]
		}
	}
	return nil
}

// Names returns the label names in schema order.
func (s *Schema) Names() []string {
	out := make([]string, len(s.Labels))
	for i, l := range s.Labels {
		out[i] = l.Name
	}
	return out
}

// Hash identifies the schema's content; it is part of a run's configuration
// hash, so changing a definition re-annotates.
func (s *Schema) Hash() string {
	b, _ := yaml.Marshal(s) // a Schema always marshals
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

// Query is the text a label is queried by: its description, or its
// name when it has none.
func (l *Label) Query() string {
	if l == nil {
		return ""
	}
	if d := strings.TrimSpace(l.Description); d != "" {
		return d
	}
	return l.Name
}

// Words is a label's name as words: "political_party" is "political
// party".
func (l *Label) Words() string {
	if l == nil {
		return ""
	}
	return strings.Join(strings.FieldsFunc(l.Name, func(r rune) bool { return r == '_' || r == '-' }), " ")
}
