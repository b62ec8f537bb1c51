// Package activations is the client of zeroner's activation endpoint: a
// sidecar that runs an LLM and a sparse autoencoder and returns, per token,
// the top-k SAE latents (README, "Activation endpoint"):
//
//	POST {base}/v1/activations {"text": "...", "top_k": k}
//	-> {"tokens": [{"start": s, "end": e, "text": "...", "latents": [[id, activation], ...]}]}
//
// with start and end in code points, half-open. internal/wire adapts Client
// to sae.Source, so a feature -> type map can be estimated and applied over
// SAE latents exactly as over zeroner's local features.
package activations

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Feature is an active SAE latent of a token.
type Feature struct {
	ID  uint64
	Act float32
}

// Token is a token of a text with its active latents.
type Token struct {
	Start, End int // code point offsets, half-open
	Text       string
	Feats      []Feature
}

// Client asks an activation endpoint for latents. It is safe for concurrent
// use.
type Client struct {
	BaseURL string       // e.g. "http://localhost:8000" (with or without /v1)
	TopK    int          // latents per token; default 8
	HTTP    *http.Client // default http.DefaultClient
}

type request struct {
	Text string `json:"text"`
	TopK int    `json:"top_k"`
}

type response struct {
	Tokens []struct {
		Start   int          `json:"start"`
		End     int          `json:"end"`
		Text    string       `json:"text"`
		Latents [][2]float64 `json:"latents"`
	} `json:"tokens"`
}

// Features returns each text's tokens and their latents, with one request
// per text.
func (c *Client) Features(ctx context.Context, texts []string) ([][]Token, error) {
	out := make([][]Token, len(texts))
	for i, t := range texts {
		toks, err := c.one(ctx, t)
		if err != nil {
			return nil, err
		}
		out[i] = toks
	}
	return out, nil
}

func (c *Client) url() string {
	return strings.TrimSuffix(strings.TrimSuffix(c.BaseURL, "/"), "/v1") + "/v1/activations"
}

func (c *Client) one(ctx context.Context, text string) ([]Token, error) {
	k := c.TopK
	if k <= 0 {
		k = 8
	}
	body, err := json.Marshal(request{Text: text, TopK: k})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("activations %s: %w", c.url(), err)
	}
	req.Header.Set("Content-Type", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("activations %s: %w", c.url(), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("activations %s: %w", c.url(), err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("activations %s: %s: %.200s", c.url(), resp.Status, data)
	}
	var r response
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("activations %s: decode answer: %w", c.url(), err)
	}
	n := len([]rune(text))
	toks := make([]Token, len(r.Tokens))
	for i, t := range r.Tokens {
		if t.Start < 0 || t.End <= t.Start || t.End > n {
			return nil, fmt.Errorf("activations %s: token %d [%d, %d) outside a text of %d code points", c.url(), i, t.Start, t.End, n)
		}
		fs := make([]Feature, len(t.Latents))
		for j, l := range t.Latents {
			fs[j] = Feature{ID: uint64(l[0]), Act: float32(l[1])}
		}
		toks[i] = Token{Start: t.Start, End: t.End, Text: t.Text, Feats: fs}
	}
	return toks, nil
}
