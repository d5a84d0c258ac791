package control

// Query paths the control plane serves (engine.App.Query) and its
// clients ask (package rpc). Answers are JSON.
const (
	QueryStatus       = "/status"       // data: none
	QueryBlob         = "/blob"         // data: 32-byte blob ID
	QueryCommittee    = "/committee"    // data: uint64 epoch (empty = current)
	QueryEvents       = "/events"       // data: uint64 after ‖ uint32 limit
	QueryLive         = "/live"         // data: [32-byte after] ‖ uint32 limit
	QueryNode         = "/node"         // data: 32-byte public key
	QueryRegistration = "/registration" // data: 32-byte blob ID ‖ 32-byte owner key
	QueryEpochChange  = "/epochchange"  // data: uint64 epoch (empty = current)
	// QueryChallenges answers []WindowReport: window W's, or the
	// latest limit ones with W = 0. data: uint64 W ‖ uint32 limit.
	QueryChallenges = "/challenges"
	// QueryChallengeWindow answers the raw Window (null if none):
	// data: uint64 W, or empty for the window open now.
	QueryChallengeWindow = "/challenge/window"
)

// Status is the answer to QueryStatus.
type Status struct {
	Height     int64  `json:"height"`
	Epoch      uint64 `json:"epoch"`
	EpochStart int64  `json:"epochStart"`
	// EpochState is "syncing" while the current epoch's change of
	// committee is under way, else "done" (EpochChange).
	EpochState EpochState `json:"epochState"`
	// PreviousEpoch is the epoch whose committee the current one syncs
	// from (the last one that was done; 0 in the first epoch): readers
	// ask its members first while the epoch is syncing.
	PreviousEpoch uint64 `json:"previousEpoch"`
	// SyncedWeight is the weight in shards of the members that attested
	// EpochSyncDone; the epoch is done at n − f.
	SyncedWeight int     `json:"syncedWeight"`
	NextSeq      uint64  `json:"nextSeq"`
	Params       *Params `json:"params"`
}
