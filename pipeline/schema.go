package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

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
type Schema struct {
	Name     string  `yaml:"name" json:"name"`
	Fallback string  `yaml:"fallback,omitempty" json:"fallback,omitempty"`
	Labels   []Label `yaml:"labels" json:"labels"`
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

// ParseSchema reads a schema from YAML or JSON (JSON is a subset of YAML) and
// validates it. The fallback label defaults to "misc" and is added to the
// labels if the file does not define it.
func ParseSchema(data []byte) (*Schema, error) {
	var s Schema
	if err := yaml.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("parse schema: %w", err)
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
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid schema %q: %w", s.Name, err)
	}
	return nil
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
