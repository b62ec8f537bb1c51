package runs

import (
	"context"

	"github.com/zeroner/zeroner/io/table"
)

// AllMentions reads every part of the mentions table in the folder dir, in
// order.
func (s Store) AllMentions(ctx context.Context, dir string) ([]table.Mention, error) {
	parts, err := s.Parts(ctx, dir)
	if err != nil {
		return nil, err
	}
	var out []table.Mention
	for _, p := range parts {
		rows, err := s.Mentions(ctx, p)
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
	}
	return out, nil
}
