package activities

// The activities' names, as a worker registers them: the methods of the
// Activities types of activities/annotate, batch, distill and index.
// Workflows call activities by these names, so that they depend on no
// package that does I/O.
const (
	PlanActivity              = "Plan"
	ReopenActivity            = "Reopen"
	ShardActivity             = "Shard"
	DiscoverActivity          = "Discover"
	MediateActivity           = "Mediate"
	CalibrateActivity         = "Calibrate"
	AnnotateActivity          = "Annotate" // the three stages in one, for a backend without a model
	BatchPrepareActivity      = "BatchPrepare"
	PlanFinalizeActivity      = "PlanFinalize"
	FinalizePartActivity      = "FinalizePart"
	FinalizeActivity          = "Finalize"
	MergeGraphActivity        = "MergeGraph"
	BatchSubmitActivity       = "BatchSubmit"
	BatchPollActivity         = "BatchPoll" // one poll: the waits of runs started before BatchWait
	BatchWaitActivity         = "BatchWait"
	BatchCollectActivity      = "BatchCollect"
	EstimateActivity          = "Estimate"
	TagActivity               = "Tag"
	AgreeActivity             = "Agree"
	PlanIndexActivity         = "PlanIndex"
	EncodeIndexShardActivity  = "EncodeIndexShard"
	TrainIndexHeadActivity    = "TrainIndexHead"
	ProjectIndexShardActivity = "ProjectIndexShard"
	FinalizeIndexActivity     = "FinalizeIndex"
	PlanSearchBatchActivity   = "PlanSearchBatch"
	SearchChunkActivity       = "SearchChunk"
	MergeSearchBatchActivity  = "MergeSearchBatch"
)

// Names lists every activity's name.
func Names() []string {
	return []string{
		PlanActivity,
		ReopenActivity,
		ShardActivity,
		DiscoverActivity,
		MediateActivity,
		CalibrateActivity,
		AnnotateActivity,
		BatchPrepareActivity,
		PlanFinalizeActivity,
		FinalizePartActivity,
		FinalizeActivity,
		MergeGraphActivity,
		BatchSubmitActivity,
		BatchPollActivity,
		BatchWaitActivity,
		BatchCollectActivity,
		EstimateActivity,
		TagActivity,
		AgreeActivity,
		PlanIndexActivity,
		EncodeIndexShardActivity,
		TrainIndexHeadActivity,
		ProjectIndexShardActivity,
		FinalizeIndexActivity,
		PlanSearchBatchActivity,
		SearchChunkActivity,
		MergeSearchBatchActivity,
	}
}
