package wire

import (
	"context"
	"fmt"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/io/embed"
	"github.com/zeroner/zeroner/pipeline/retriever"
)

// NewEncoder builds the encoder of spec; apiKey is sent to the endpoints.
func NewEncoder(ctx context.Context, spec activities.EncoderSpec, apiKey string) (retriever.Encoder, error) {
	switch spec.Kind {
	case "", "local":
		if spec.Dim < 0 {
			return nil, activities.BadInput(fmt.Errorf("local encoder: negative dimension %d", spec.Dim))
		}
		return retriever.NewLocal(spec.Dim), nil
	case "embeddings":
		e, err := embed.NewOpenAI(ctx, embed.OpenAIConfig{BaseURL: spec.URL, APIKey: apiKey, Model: spec.Model,
			Dimensions: spec.Dim, Window: spec.Window, QueryTemplate: spec.QueryTemplate, MaxConcurrent: spec.MaxConcurrent})
		if err != nil {
			return nil, err
		}
		return encoder{e}, nil
	case "hidden":
		e, err := embed.NewHidden(ctx, embed.HiddenConfig{BaseURL: spec.URL, APIKey: apiKey, Model: spec.Model,
			Layer: spec.Layer, Dim: spec.Dim, Window: spec.Window, MaxConcurrent: spec.MaxConcurrent})
		if err != nil {
			return nil, err
		}
		return encoder{e}, nil
	}
	return nil, activities.BadInput(fmt.Errorf("unknown encoder %q: want local, embeddings or hidden", spec.Kind))
}
