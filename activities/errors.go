package activities

import "go.temporal.io/sdk/temporal"

// ErrBadInput is the error type of failures that retrying cannot fix: a
// schema that does not parse, a corpus with no objects, a corrupt shard.
const ErrBadInput = "BadInput"

func badInput(err error) error {
	return temporal.NewNonRetryableApplicationError(err.Error(), ErrBadInput, err)
}
