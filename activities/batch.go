package activities

import "time"

// BatchTask is one round of a stage of a shard in batch mode.
type BatchTask struct {
	ShardTask
	Stage string `json:"stage"`
	Round int    `json:"round"`
}

// BatchRound is what a round's preparation found missing.
type BatchRound struct {
	Requests int    `json:"requests"`
	URI      string `json:"uri,omitempty"` // the round's request file
}

// BatchRef is a submitted round.
type BatchRef struct {
	ID string `json:"id,omitempty"` // the provider's batch id (BatchAPI)
}

// BatchWait is one wait for a submitted round's answers (BatchWait
// activity): it polls Ref with a backoff until the round is done or, when
// Deadline is set, that time has passed.
type BatchWait struct {
	Ref      BatchRef  `json:"ref"`
	Deadline time.Time `json:"deadline,omitzero"`
	// Now polls at once, before the first wait: the wait that follows a
	// resume signal.
	Now bool `json:"now,omitempty"`
}

// BatchStatus is a round's state; once done, in BatchAPI mode, it names
// the batch's output and error files.
type BatchStatus struct {
	Done   bool   `json:"done"`
	Status string `json:"status"`
	Output string `json:"output,omitempty"`
	Errors string `json:"errors,omitempty"`
}

// BatchCollected counts a round's answers.
type BatchCollected struct {
	Status   string `json:"status"`
	Requests int    `json:"requests"`
	Answered int    `json:"answered"`
	Missing  int    `json:"missing"`
}
