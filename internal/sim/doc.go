// Package sim is a deterministic simulation of a Weft network in one
// process: one seed fixes the topology, the workload and every fault, the
// event loop runs on one goroutine over simulated time (events ordered by
// time, then by the order they were scheduled), and the same seed prints
// the same run, byte for byte. Nothing here reads the clock, touches the
// network or files, or lets map order or goroutines decide anything.
//
// # Real code and models
//
// Real: the control plane state machine (control.Machine over a MemStore,
// fed blocks by a simulated sequencer that orders the transactions of
// each block with the seeded generator, with real signed transactions and
// real certificates), the codec (redstuff: encoding, sliver verification,
// decoding) and self-healing (recovery.NewJob, its rounds and Deliver,
// answered by recovery.Serve from the simulated nodes' slivers through
// the real wire formats). Confirmations are signed over
// control.ConfirmationMessage, as a storage node signs them. With churn
// (Config.Churn), membership changes through the machine's own
// transactions: a new node sends RegisterNode from its own key and the
// genesis admin key gives it weight with SetWeight, a member sends
// LeaveCommittee; the machine advances the epoch by block time, deals the
// shards with control.AssignShards and ends the change when members
// worth n − f shards have sent EpochSyncDone. Shard sync is the storage
// node's own pure code: migration.PlanFor says what each node gained and
// gave up, and a migration.Puller per gained shard cuts the batches,
// whose signed requests and answers go through the sync wire format and
// whose slivers it verifies against the blob ID.
//
// Models, not the real code: the storage node and the writer. The storage
// node's logic (internal/node) is not yet behind seams — a clock, a
// transport, the control plane behind an interface, a simulated disk — so
// the nodes here are a small model of it: they follow the machine's
// events with Machine.Events, keep slivers in memory per (blob, pair),
// verify uploads with redstuff.VerifySliver, sync their writes once a
// simulated second (a crash loses what was written since the last sync),
// confirm a blob once every pair of their shards for it is synced, and
// rebuild missing pairs of certified blobs with a recovery.Job. The
// writer is a model of the SDK's store path: encode, RegisterBlob,
// upload to the shards' owners, collect confirmations worth n − f shards,
// CertifyBlob, uploading again to the new owners when shards move. Around
// the puller the node is a model: it pulls every gained shard of every
// certified blob from the previous owner within one instant, rebuilds
// what the previous owner cannot give (down, wiped, without the pair)
// with a recovery job, and attests EpochSyncDone once what it fetched is
// synced; a node that gave shards up serves them read-only until the
// change is done and their new owners attested, then drops them. Network calls are messages with seeded latencies; a
// recovery job's rounds and a shard sync run within one simulated
// instant.
//
// # Faults and invariants
//
// Crashes (a node is down for a few seconds and loses unsynced writes)
// and disk wipes (it loses everything, its event cursor included) are
// injected at seeded times, never more than f shards' worth of nodes
// degraded at once (down, or missing pairs of a blob being stored). After
// every batch of events at one simulated instant the simulator checks
// that every certified live blob decodes byte-exact from the honest
// nodes' primary slivers (a shard's owner, or while a change is not done
// the node that still serves it), and that no node lost a sliver it
// acknowledged, by a confirmation or by attesting its sync, except
// through an injected wipe. With churn it also checks that every shard
// has exactly one owner, a member with weight that is not leaving, in
// every epoch, and that every epoch change is done within half an epoch
// of its start (never superseded). A sync's bytes count as the run's
// sync bytes (requests and answers on the sync wire, and the recovery
// traffic of what had to be rebuilt), against the sliver bytes of the
// pairs the node lacked.
package sim
