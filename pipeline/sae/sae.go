// Package sae is SAE-NER (METHODS §3) over any sparse feature source: it
// estimates, on a labelled or silver sample, how precisely each feature
// signals each entity type, keeps the precise and well-supported ones as a
// feature -> type map, and tags text with that map at CPU speed. It is plain
// Go: no Temporal, no storage, no network (an HTTP source of SAE latents
// lives in io/activations).
//
// # Features
//
// A Source gives each token of a text (code point offsets, as
// pipeline.Mention counts them) its active features: an ID and an
// activation. Local is zeroner's own source: hashed word, lower-cased form,
// shape, prefixes, suffixes, capitalisation, lexicon membership and
// neighbouring words, all binary.
//
// # Estimation
//
// Each token of the sample gets a BIO class (O, B-t or I-t for type t) from
// the spans: a token wholly inside a span is B- if it is the span's first
// token, I- otherwise; a token a span only partly covers is O. For feature f
// and class c, with n(f) the tokens where f is active (its support), n(f, c)
// those of class c among them and π(c) the share of class c over all tokens
// of the sample, the precision is smoothed with a Beta prior of strength α
// centred on the base rate:
//
//	p(c | f) = (n(f, c) + α·π(c)) / (n(f) + α)
//
// so a feature seen twice does not claim a precision of 1, and a feature
// seen never tells nothing beyond the base rate.
//
// # Decoding
//
// Only features with support at least MinSupport are kept. Two decoders:
//
//   - "max" (SAE-NER's reading): a token takes the class of its most precise
//     active (feature, class) pair, O pairs included; an entity class
//     counts only at precision MinPrecision or more.
//   - "product" (default): naive Bayes over the active features, the class
//     maximising log π(c) + Σ_f log(p(c | f) / π(c)).
//
// Classes become spans as conlleval reads BIO: B-t starts a span, I-t
// continues a span of type t and otherwise starts one, O ends it.
package sae

import (
	"context"
	"strconv"
)

// Feature is one active feature of a token.
type Feature struct {
	ID  uint64
	Act float32
}

// Token is a token of a text with its active features.
type Token struct {
	Start, End int // code point offsets, half-open
	Text       string
	Feats      []Feature
}

// Source computes the active features of texts' tokens. Results are in the
// order of texts. Feats of one text may share one backing array.
type Source interface {
	Features(ctx context.Context, texts []string) ([][]Token, error)
}

// Namer is implemented by sources that can name their features: Names
// returns, per token of text, the names of Features' features in the same
// order. It is used off the hot path, to make the map readable.
type Namer interface {
	Names(text string) [][]string
}

// Span is a labelled range of a text in code points, half-open.
type Span struct {
	Start, End int
	Label      string
}

// Labeled is one text of a sample with its entity spans.
type Labeled struct {
	Text  string
	Spans []Span
}

// idName is the name of a feature its source cannot name: its ID.
func idName(id uint64) string { return "f" + strconv.FormatUint(id, 10) }
