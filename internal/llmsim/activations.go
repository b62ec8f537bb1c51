package llmsim

import (
	"encoding/json"
	"hash/fnv"
	"net/http"
	"strings"
	"sync"

	"github.com/zeroner/zeroner/pipeline/text"
)

// The activation endpoint stands in for a sidecar that runs an LLM and a
// sparse autoencoder on its activations (README, "Activation endpoint"):
//
//	POST /v1/activations {"text": "...", "top_k": 8}
//	-> {"tokens": [{"start": 0, "end": 5, "text": "Paris",
//	                "latents": [[1234, 2.5], ...]}, ...]}
//
// start and end are code point offsets. The test server's latents are
// deterministic: three from hashes of the lower-cased token, one from its
// shape, and, when the text is a gold sentence, one latent for the token's
// gold class (B- or I- of its label, or none outside entities) so that a
// map estimated from them can learn, as it would from a monosemantic SAE
// feature. Latents are sorted by activation, cut to top_k.

// Latent ID ranges.
const (
	actWordLatents  = 1 << 14 // word latents are in [0, 1<<14)
	actClassLatent0 = 1 << 15 // class latents start here
)

type activationRequest struct {
	Text string `json:"text"`
	TopK int    `json:"top_k"`
}

type activationToken struct {
	Start   int          `json:"start"`
	End     int          `json:"end"`
	Text    string       `json:"text"`
	Latents [][2]float64 `json:"latents"`
}

type activationResponse struct {
	Tokens []activationToken `json:"tokens"`
}

// actIndex maps a gold sentence's text to the class of each of its code
// points' tokens.
type actIndex struct {
	once  sync.Once
	class map[string][]string // text -> per gold token: "B-x", "I-x" or ""
}

func (s *Server) actClasses(t string) ([]string, bool) {
	s.acts.once.Do(func() {
		s.acts.class = make(map[string][]string, len(s.gold.sents))
		for _, st := range s.gold.sents {
			cls := make([]string, len(st.toks))
			for _, e := range st.ents {
				for i := e.start; i < e.end; i++ {
					cls[i] = "I-" + e.label
				}
				cls[e.start] = "B-" + e.label
			}
			s.acts.class[strings.Join(st.toks, " ")] = cls
		}
	})
	c, ok := s.acts.class[t]
	return c, ok
}

func hash32(parts ...string) uint32 {
	h := fnv.New32a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum32()
}

func (s *Server) activations(w http.ResponseWriter, r *http.Request) {
	var req activationRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "activations: "+err.Error())
		return
	}
	if req.TopK <= 0 {
		req.TopK = 8
	}
	s.count(func(st *Stats) { st.ByKind["activations"]++ })
	toks := text.Tokenize(req.Text)
	cls, known := s.actClasses(req.Text)
	// Gold tokens are the text's space-separated words: a token's class is
	// that of the word it lies in.
	var wordOf []int
	if known {
		for i, word := range strings.Split(req.Text, " ") {
			for range []rune(word) {
				wordOf = append(wordOf, i)
			}
			wordOf = append(wordOf, -1)
		}
	}
	out := activationResponse{Tokens: make([]activationToken, 0, len(toks))}
	for _, t := range toks {
		low := strings.ToLower(t.Text)
		var ls [][2]float64
		for i, seed := range []string{"a", "b", "c"} {
			ls = append(ls, [2]float64{float64(hash32(seed, low) % actWordLatents), 1.5 - float64(i)/4})
		}
		ls = append(ls, [2]float64{float64(hash32("shape", shape(t.Text)) % actWordLatents), 0.5})
		if known && t.Start < len(wordOf) && wordOf[t.Start] >= 0 {
			if c := cls[wordOf[t.Start]]; c != "" {
				ls = append([][2]float64{{float64(actClassLatent0 + hash32("class", c)%1024), 3}}, ls...)
			}
		}
		if len(ls) > req.TopK {
			ls = ls[:req.TopK]
		}
		out.Tokens = append(out.Tokens, activationToken{Start: t.Start, End: t.End, Text: t.Text, Latents: ls})
	}
	writeJSON(w, http.StatusOK, out)
}

// shape is a word's capitalisation shape: X upper, x lower, d digit.
func shape(w string) string {
	var b strings.Builder
	for _, r := range w {
		switch {
		case r >= 'A' && r <= 'Z':
			b.WriteByte('X')
		case r >= 'a' && r <= 'z':
			b.WriteByte('x')
		case r >= '0' && r <= '9':
			b.WriteByte('d')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
