package activities

import "go.temporal.io/sdk/temporal"

func badInput(err error) error {
	return temporal.NewNonRetryableApplicationError(err.Error(), ErrBadInput, err)
}
