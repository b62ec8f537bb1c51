package wire

import (
	"context"

	"github.com/zeroner/zeroner/io/activations"
	"github.com/zeroner/zeroner/io/embed"
	"github.com/zeroner/zeroner/pipeline/retriever"
	"github.com/zeroner/zeroner/pipeline/sae"
)

// The bridges from the remote encoders and the activation endpoint (io) to
// the method's interfaces (pipeline), so that io needs no NER types.

// remoteEncoder is the shape of io/embed's encoders.
type remoteEncoder interface {
	Name() string
	Dim() int
	Mentions(ctx context.Context, ms []embed.Mention) ([][]float32, error)
	Queries(ctx context.Context, descs []string) ([][]float32, error)
}

// encoder adapts an io/embed encoder to retriever.Encoder.
type encoder struct{ remoteEncoder }

func (e encoder) Mentions(ctx context.Context, ms []retriever.Mention) ([][]float32, error) {
	in := make([]embed.Mention, len(ms))
	for i, m := range ms {
		in[i] = embed.Mention(m)
	}
	return e.remoteEncoder.Mentions(ctx, in)
}

// Activations returns the activation endpoint's client as an SAE feature
// source.
func Activations(c *activations.Client) sae.Source { return source{c} }

type source struct{ c *activations.Client }

func (s source) Features(ctx context.Context, texts []string) ([][]sae.Token, error) {
	got, err := s.c.Features(ctx, texts)
	if err != nil {
		return nil, err
	}
	out := make([][]sae.Token, len(got))
	for i, toks := range got {
		out[i] = make([]sae.Token, len(toks))
		for j, t := range toks {
			fs := make([]sae.Feature, len(t.Feats))
			for k, f := range t.Feats {
				fs[k] = sae.Feature(f)
			}
			out[i][j] = sae.Token{Start: t.Start, End: t.End, Text: t.Text, Feats: fs}
		}
	}
	return out, nil
}
