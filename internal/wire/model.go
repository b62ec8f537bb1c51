package wire

import (
	"context"
	"errors"
	"fmt"

	"github.com/zeroner/zeroner/io/llm"
	"github.com/zeroner/zeroner/pipeline"
)

// Model returns c as a pipeline.LLM: the bridge that lets the project's
// OpenAI-compatible client (io/llm) serve as the pipeline's model, so io
// stays free of NER types and pipeline free of HTTP.
func Model(c *llm.Client) pipeline.LLM { return model{c} }

type model struct{ c *llm.Client }

func (m model) Ask(ctx context.Context, p pipeline.Prompt, valid func(string) error) (pipeline.Answer, error) {
	resp, err := m.c.Complete(ctx, llm.Request{
		Model: p.Model, System: p.System, User: p.User,
		Schema: p.Schema, SchemaName: p.SchemaName, LogProbs: p.LogProbs, MaxTokens: p.MaxTokens,
	}, valid)
	ans := pipeline.Answer{Content: resp.Content, Usage: pipeline.Usage(resp.Usage)}
	for _, lp := range resp.LogProbs {
		ans.LogProbs = append(ans.LogProbs, pipeline.TokenLogProb(lp))
	}
	switch {
	case errors.Is(err, llm.ErrInvalidAnswer):
		// The pipeline records a never-valid answer as a failed chunk.
		err = fmt.Errorf("%w: %w", pipeline.ErrInvalidAnswer, err)
	case errors.Is(err, llm.ErrCutOff):
		err = fmt.Errorf("%w: %w", pipeline.ErrCutOff, err)
	case errors.Is(err, llm.ErrPending):
		err = fmt.Errorf("%w: %w", pipeline.ErrUnanswered, err)
	}
	return ans, err
}
