// Package student is a sequence tagger that learns entity spans from
// labelled text, trained and run on CPU in plain Go: distill's student,
// which learns from the teacher's annotations of a sample and tags the rest
// of a corpus.
//
// # Model
//
// A text is split into sentences (pipeline/text.Sentences) and tokens
// (pipeline/text.Tokenize); each sentence is a sequence of BIO classes (O,
// and B-t and I-t for each entity type t). A token's class is scored as the
// sum of the weights of its active features, hashed into a fixed table of
// 2^Bits rows of one weight per class (of which the trained model keeps
// the non-zero ones), plus a weight for the class pair of it and the token
// before; Viterbi finds the best sequence, with
// I-t allowed only after B-t or I-t, so every decoded sequence reads as
// spans. The weights are an averaged structured perceptron's (Collins
// 2002), trained for a fixed number of epochs over the examples in a
// seeded order: the same examples and options give the same bytes.
//
// # Features
//
// Of the token: its text, lower-cased form, shape (runs of X, x, d and
// punctuation collapsed: "Xx", "d.d", "X.X."), prefixes and suffixes of one
// to four code points, capitalisation crossed with being the first of its
// sentence; of its context: the lower-cased forms and shapes of the two
// tokens either side, the two word bigrams through it and the shape
// trigram around it; and, with lexicons, where it falls (first, inside,
// last, alone) in a match of each lexicon.
//
// Offsets are code points, half-open, as pipeline.Mention counts them.
package student

import (
	"fmt"
	"slices"
)

// Span is a labelled range of a text in code points, half-open.
type Span struct {
	Start, End int
	Label      string
}

// Example is a text and its entity spans.
type Example struct {
	Text  string
	Spans []Span
}

// Lexicon is a named list of terms. A term written with a capital letter
// matches its exact case; a lower-case term matches any case.
type Lexicon struct {
	Name    string
	Entries []string
}

// Options tune training. The zero value is the default.
type Options struct {
	// Epochs is the number of passes over the examples; default 10
	// (chosen on the CrossNER dev splits, scripts/studentstudy).
	Epochs int
	// Bits is the log2 of the weight table's rows; default 18. Training
	// holds 12 bytes per row and class; the model 4 per row and 8 per
	// non-zero weight.
	Bits int
	// Seed orders the examples of each epoch.
	Seed uint64
	// Lexicons give the lexicon features; the model keeps them.
	Lexicons []Lexicon
	// Vocab is how many of the most frequent words of the examples have
	// their scores precomputed for speed, 5×classes float32 each; default
	// 16384. Tags are the same whatever it is, up to the order of float
	// additions.
	Vocab int
}

// Limits of the model's shape: classes index a byte, and rows a uint32.
const (
	maxTypes = 120
	minBits  = 10
	maxBits  = 24
)

func (o Options) withDefaults() (Options, error) {
	if o.Epochs == 0 {
		o.Epochs = 10
	}
	if o.Bits == 0 {
		o.Bits = 18
	}
	if o.Vocab == 0 {
		o.Vocab = 1 << 14
	}
	if o.Epochs < 0 || o.Vocab < 0 {
		return o, fmt.Errorf("student: %d epochs, vocabulary of %d", o.Epochs, o.Vocab)
	}
	if o.Bits < minBits || o.Bits > maxBits {
		return o, fmt.Errorf("student: %d bits, want %d to %d", o.Bits, minBits, maxBits)
	}
	return o, nil
}

// classes is the BIO class set of some entity types: 0 is O, then B-t at
// 1+2i and I-t at 2+2i for the i-th type in sorted order.
type classes struct {
	types []string
	index map[string]int // type -> i
}

func newClasses(types []string) (classes, error) {
	types = slices.Clone(types)
	slices.Sort(types)
	types = slices.Compact(types)
	if len(types) > maxTypes {
		return classes{}, fmt.Errorf("student: %d entity types, at most %d", len(types), maxTypes)
	}
	c := classes{types: types, index: make(map[string]int, len(types))}
	for i, t := range types {
		if t == "" {
			return classes{}, fmt.Errorf("student: an empty entity type")
		}
		c.index[t] = i
	}
	return c, nil
}

// n is the number of classes.
func (c classes) n() int { return 1 + 2*len(c.types) }

// typeOf returns the type of class k > 0 and whether k is an I- class.
func (c classes) typeOf(k int) (string, bool) { return c.types[(k-1)/2], k%2 == 0 }

// name returns class k as "O", "B-t" or "I-t".
func (c classes) name(k int) string {
	if k == 0 {
		return "O"
	}
	t, in := c.typeOf(k)
	if in {
		return "I-" + t
	}
	return "B-" + t
}

// allowed reports whether class k may follow class j; j < 0 is the start
// of a sentence. I-t follows only B-t or I-t.
func allowed(j, k int) bool {
	if k == 0 || k%2 == 1 {
		return true
	}
	return j == k || j == k-1
}
