package llmsim

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/zeroner/zeroner/pipeline/text"
)

// The hidden-state endpoint stands in for a sidecar that runs a frozen LLM
// and returns one layer's representation at the last token of each span
// (package io/embed documents the protocol):
//
//	POST /v1/hidden_states {"model": "...", "layer": 17, "dim": 64,
//	                        "inputs": [{"text": "...", "spans": [[0, 5], ...]}]}
//	-> {"dim": 64, "data": [{"vectors": [[...], ...]}, ...]}
//
// It is a test double, not a model. A span's vector is a function of its
// last word (the last token of pipeline/text that overlaps the span), that
// word's shape and the two words each side of it: each of these features
// is hashed, with the layer, to a random unit direction (Embed), and the
// weighted sum is L2-normalised. So the same span in the same context gives
// the same vector on every server, the same word in another context a
// similar one, and another layer an unrelated one. The width is the
// request's "dim", else Options.EmbedDim.

// Limits of one hidden-state request.
const (
	hiddenMaxInputs = 256
	hiddenMaxSpans  = 1 << 14
	hiddenMaxDim    = 1 << 16
)

type hiddenStatesRequest struct {
	Model  string `json:"model"`
	Layer  int    `json:"layer"`
	Dim    int    `json:"dim"`
	Inputs []struct {
		Text  string   `json:"text"`
		Spans [][2]int `json:"spans"`
	} `json:"inputs"`
}

type hiddenStatesData struct {
	Vectors [][]float32 `json:"vectors"`
}

type hiddenStatesResponse struct {
	Dim  int                `json:"dim"`
	Data []hiddenStatesData `json:"data"`
}

func (s *Server) hiddenStates(w http.ResponseWriter, r *http.Request) {
	var req hiddenStatesRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "hidden_states: "+err.Error())
		return
	}
	dim := s.opt.EmbedDim
	if req.Dim != 0 {
		dim = req.Dim
	}
	if msg := hiddenCheck(&req, dim); msg != "" {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "hidden_states: "+msg)
		return
	}
	s.count(func(st *Stats) { st.ByKind["hidden_states"]++ })
	out := hiddenStatesResponse{Dim: dim, Data: make([]hiddenStatesData, len(req.Inputs))}
	for i, in := range req.Inputs {
		toks := text.Tokenize(in.Text)
		rs := []rune(in.Text)
		vs := make([][]float32, len(in.Spans))
		for j, sp := range in.Spans {
			vs[j] = hiddenVector(rs, toks, sp, req.Layer, dim)
		}
		out.Data[i].Vectors = vs
	}
	writeJSON(w, http.StatusOK, out)
}

// hiddenCheck returns what is wrong with a request, or "".
func hiddenCheck(req *hiddenStatesRequest, dim int) string {
	switch {
	case len(req.Inputs) == 0:
		return "no inputs"
	case len(req.Inputs) > hiddenMaxInputs:
		return fmt.Sprintf("%d inputs, at most %d", len(req.Inputs), hiddenMaxInputs)
	case dim <= 0 || dim > hiddenMaxDim:
		return fmt.Sprintf("dim %d is not in [1, %d]", dim, hiddenMaxDim)
	case req.Layer < 0:
		return fmt.Sprintf("layer %d is negative", req.Layer)
	}
	spans := 0
	for i, in := range req.Inputs {
		if len(in.Spans) == 0 {
			return fmt.Sprintf("input %d has no spans", i)
		}
		spans += len(in.Spans)
		n := len([]rune(in.Text))
		for j, sp := range in.Spans {
			if sp[0] < 0 || sp[1] <= sp[0] || sp[1] > n {
				return fmt.Sprintf("input %d, span %d: [%d, %d) is not inside a text of %d code points", i, j, sp[0], sp[1], n)
			}
		}
	}
	if spans > hiddenMaxSpans {
		return fmt.Sprintf("%d spans, at most %d", spans, hiddenMaxSpans)
	}
	return ""
}

// hiddenVector is the simulated representation of span sp of a text (rs,
// tokenised as toks).
func hiddenVector(rs []rune, toks []text.Token, sp [2]int, layer, dim int) []float32 {
	last := -1 // the last token overlapping the span
	for k, t := range toks {
		if t.Start >= sp[1] {
			break
		}
		if t.End > sp[0] {
			last = k
		}
	}
	word := strings.ToLower(string(rs[sp[0]:sp[1]])) // a span of white space only
	if last >= 0 {
		word = strings.ToLower(toks[last].Text)
	}
	// Neighbours of the last word: of the span's text if no token overlaps.
	prev, next := last, last
	if last < 0 {
		prev, next = len(toks), len(toks)
		for k, t := range toks {
			if t.Start >= sp[1] {
				prev, next = k, k-1
				break
			}
		}
	}
	neighbour := func(k int) string {
		if k < 0 || k >= len(toks) {
			return "<edge>"
		}
		return strings.ToLower(toks[k].Text)
	}
	feats := []struct {
		name string
		w    float64
	}{
		{"word=" + word, 1},
		{"shape=" + shape(word), 0.4},
		{"prev=" + neighbour(prev-1), 0.5},
		{"next=" + neighbour(next+1), 0.5},
		{"prev2=" + neighbour(prev-2), 0.25},
		{"next2=" + neighbour(next+2), 0.25},
	}
	if last >= 0 {
		feats[1].name = "shape=" + shape(toks[last].Text)
	}
	sum := make([]float64, dim)
	seed := "L" + strconv.Itoa(layer) + "|"
	for _, f := range feats {
		for i, x := range Embed(seed+f.name, dim) {
			sum[i] += f.w * float64(x)
		}
	}
	var norm float64
	for _, x := range sum {
		norm += x * x
	}
	norm = math.Sqrt(norm)
	v := make([]float32, dim)
	for i, x := range sum {
		v[i] = float32(x / norm)
	}
	return v
}
