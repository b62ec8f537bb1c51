package retriever

import (
	"strings"
	"unicode"

	"github.com/zeroner/zeroner/pipeline/text"
)

// stopWords are English function words. BM25 drops them from queries and
// the local encoder keeps them out of its bag of words, where they would
// make every description meet every context.
var stopWords = map[string]bool{
	"a": true, "about": true, "above": true, "after": true, "again": true, "against": true,
	"all": true, "also": true, "am": true, "an": true, "and": true, "any": true, "are": true,
	"as": true, "at": true, "be": true, "because": true, "been": true, "before": true,
	"being": true, "below": true, "between": true, "both": true, "but": true, "by": true,
	"can": true, "could": true, "did": true, "do": true, "does": true, "doing": true,
	"down": true, "during": true, "each": true, "either": true, "etc": true, "every": true,
	"few": true, "for": true, "from": true, "further": true, "had": true, "has": true,
	"have": true, "having": true, "he": true, "her": true, "here": true, "hers": true,
	"him": true, "his": true, "how": true, "i": true, "if": true, "in": true, "into": true,
	"is": true, "it": true, "its": true, "itself": true, "may": true, "me": true,
	"might": true, "more": true, "most": true, "must": true, "my": true, "no": true,
	"nor": true, "not": true, "of": true, "off": true, "on": true, "once": true, "one": true,
	"only": true, "or": true, "other": true, "our": true, "ours": true, "out": true,
	"over": true, "own": true, "same": true, "shall": true, "she": true, "should": true,
	"so": true, "some": true, "such": true, "than": true, "that": true, "the": true,
	"their": true, "theirs": true, "them": true, "then": true, "there": true, "these": true,
	"they": true, "this": true, "those": true, "through": true, "to": true, "too": true,
	"under": true, "until": true, "up": true, "us": true, "very": true, "was": true,
	"we": true, "were": true, "what": true, "when": true, "where": true, "which": true,
	"while": true, "who": true, "whom": true, "whose": true, "why": true, "will": true,
	"with": true, "would": true, "you": true, "your": true, "yours": true,
	"'s": true, "'ll": true, "'re": true, "'ve": true, "'d": true, "'m": true, "'t": true,
	"’s": true, "’ll": true, "’re": true, "’ve": true, "’d": true, "’m": true, "’t": true,
}

// IsStopWord reports whether the lower-cased word w is on the stop-word list
// BM25 drops from queries.
func IsStopWord(w string) bool { return stopWords[w] }

// isWord reports whether a token has a letter or digit: words and numbers,
// not punctuation or symbols.
func isWord(tok string) bool {
	for _, r := range tok {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return true
		}
	}
	return false
}

// Words returns the lower-cased word tokens of s (text.Tokenize, without
// punctuation and symbols), the terms BM25 indexes.
func Words(s string) []string {
	toks := text.Tokenize(s)
	out := make([]string, 0, len(toks))
	for _, t := range toks {
		if isWord(t.Text) {
			out = append(out, strings.ToLower(t.Text))
		}
	}
	return out
}

// stem strips an English plural so that a description's "teams" meets a
// context's "team". It is deliberately crude: it only has to map the two
// forms to one feature, not to a dictionary word.
func stem(w string) string {
	n := len(w)
	switch {
	case n > 4 && strings.HasSuffix(w, "ies"):
		return w[:n-3] + "y"
	case n > 3 && w[n-1] == 's' && w[n-2] != 's' && w[n-2] != 'u' && w[n-2] != 'i':
		return w[:n-1]
	}
	return w
}
