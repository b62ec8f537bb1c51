package main

import (
	"math/rand/v2"
	"slices"

	"github.com/zeroner/zeroner/pipeline/sae"
	"github.com/zeroner/zeroner/pipeline/text"
)

// A perturbation returns a noisy copy of gold annotations.
type perturbation struct {
	name string
	f    func(gold []sae.Labeled, labels []string, r *rand.Rand) []sae.Labeled
}

var perturbations = []perturbation{
	{"gold (no perturbation)", func(g []sae.Labeled, _ []string, _ *rand.Rand) []sae.Labeled { return g }},
	{"drop 20% of entities", drop(0.2)},
	{"drop 40% of entities", drop(0.4)},
	{"shift a boundary of 20% by a token", each(0.2, shift)},
	{"spurious entities (+20%)", spurious(0.2)},
	{"swap 20% of labels", each(0.2, swap)},
}

func drop(p float64) func([]sae.Labeled, []string, *rand.Rand) []sae.Labeled {
	return func(g []sae.Labeled, _ []string, r *rand.Rand) []sae.Labeled {
		out := make([]sae.Labeled, len(g))
		for i, l := range g {
			out[i].Text = l.Text
			for _, s := range l.Spans {
				if r.Float64() >= p {
					out[i].Spans = append(out[i].Spans, s)
				}
			}
		}
		return out
	}
}

// each applies f to a share p of the entities.
func each(p float64, f func(l sae.Labeled, s sae.Span, labels []string, toks []text.Token, r *rand.Rand) sae.Span) func([]sae.Labeled, []string, *rand.Rand) []sae.Labeled {
	return func(g []sae.Labeled, labels []string, r *rand.Rand) []sae.Labeled {
		out := make([]sae.Labeled, len(g))
		for i, l := range g {
			out[i].Text = l.Text
			toks := text.Tokenize(l.Text)
			for _, s := range l.Spans {
				if r.Float64() < p {
					s = f(l, s, labels, toks, r)
				}
				out[i].Spans = append(out[i].Spans, s)
			}
		}
		return out
	}
}

// shift moves the start or the end of s one token in or out, keeping at
// least one token.
func shift(_ sae.Labeled, s sae.Span, _ []string, toks []text.Token, r *rand.Rand) sae.Span {
	i := slices.IndexFunc(toks, func(t text.Token) bool { return t.Start == s.Start })
	j := slices.IndexFunc(toks, func(t text.Token) bool { return t.End == s.End })
	if i < 0 || j < 0 {
		return s
	}
	grow := r.IntN(2) == 0
	switch start := r.IntN(2) == 0; {
	case start && grow && i > 0:
		s.Start = toks[i-1].Start
	case start && !grow && i < j:
		s.Start = toks[i+1].Start
	case !start && grow && j+1 < len(toks):
		s.End = toks[j+1].End
	case !start && !grow && j > i:
		s.End = toks[j-1].End
	}
	return s
}

func swap(_ sae.Labeled, s sae.Span, labels []string, _ []text.Token, r *rand.Rand) sae.Span {
	if len(labels) < 2 {
		return s
	}
	for {
		if l := labels[r.IntN(len(labels))]; l != s.Label {
			s.Label = l
			return s
		}
	}
}

// spurious adds one-token entities with random labels on tokens outside
// every entity, p as many as there are entities.
func spurious(p float64) func([]sae.Labeled, []string, *rand.Rand) []sae.Labeled {
	return func(g []sae.Labeled, labels []string, r *rand.Rand) []sae.Labeled {
		var n, toks int
		for _, l := range g {
			n += len(l.Spans)
			toks += len(text.Tokenize(l.Text))
		}
		rate := p * float64(n) / float64(max(toks-n, 1)) // per free token
		out := make([]sae.Labeled, len(g))
		for i, l := range g {
			out[i] = sae.Labeled{Text: l.Text, Spans: slices.Clone(l.Spans)}
			for _, t := range text.Tokenize(l.Text) {
				free := !slices.ContainsFunc(l.Spans, func(s sae.Span) bool { return t.Start < s.End && s.Start < t.End })
				if free && r.Float64() < rate {
					out[i].Spans = append(out[i].Spans, sae.Span{Start: t.Start, End: t.End, Label: labels[r.IntN(len(labels))]})
				}
			}
		}
		return out
	}
}
