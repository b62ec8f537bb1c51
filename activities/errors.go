package activities

import "go.temporal.io/sdk/temporal"

// ErrBadInput is the error type of failures that retrying cannot fix: a
// schema that does not parse, a corpus with no objects, a corrupt shard.
const ErrBadInput = "BadInput"

// ErrUnavailable is the error type of a shard's failure because a service
// it needs (the LLM endpoint, an encoder) could not be reached or kept
// failing after its retries. Waiting can heal it: the shard's objects stay
// pending and the next run annotates them.
const ErrUnavailable = "Unavailable"

// ErrRefused is the error type of a service refusing the job's requests in
// a way waiting cannot heal: missing or wrong credentials, a model or path
// that does not exist (401, 403, 404). The job stops at once with the cause.
const ErrRefused = "Refused"

// BadInput marks err as a failure that retrying cannot fix (ErrBadInput):
// the activity fails at once, naming the object.
func BadInput(err error) error {
	return temporal.NewNonRetryableApplicationError(err.Error(), ErrBadInput, err)
}
