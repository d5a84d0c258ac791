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
// decoding) and the storage node's self-healing: each node rebuilds what
// it lacks with internal/node's Healer, the same code a storage node's
// recovery loop runs (what is missing, read from the node's store; whom
// to ask, from the committee and the previous one, skipping peers that
// lied and asking last those that failed; the recovery.Job; what it
// stores), with its calls over the simulated network answered by
// recovery.Serve from the peers' slivers through the real wire formats. Confirmations are signed over
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
// Each node's disk is the storage node's own store (internal/store, Pebble)
// on a crashable in-memory disk (store.MemDisk, over Pebble's vfs): slivers,
// blob records and the event cursor are written as a storage node writes
// them (every sliver and cursor write synced), a crash keeps only what
// was synced (MemDisk.Crash) and the node reads its view back from the
// store, and a wipe starts an empty one.
//
// Uploads and confirmations go through the storage node itself: each
// simulated node opens internal/node over its store (node.Embed: no
// listener, no loops, the machine behind node.Control) and the writer's
// requests are served by its HTTP API (Node.Handler) within the event
// loop: PUT of each sliver message (the node checks the shard is its own,
// the blob live, the sizes right and the sliver against its commitment,
// then stores it) and GET of the confirmation (signed only once every
// pair of its shards is stored).
//
// Models, not the real code: the rest of the storage node's logic and the
// writer. Besides its API and Healer, the storage node's loops (event
// following, shard sync, challenges, invalidation, scrub) are not yet
// steppable, so the nodes here follow the machine's events with
// Machine.Events into their store, run one recovery batch of every
// certified blob they lack pairs of (the storage node's persistent queue
// and scheduler are not used), and sync, answer challenges and have blobs
// invalidated as described below. The writer is a model of the SDK's store path: encode, RegisterBlob,
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
// Extending a sliver (its parity symbols and Merkle tree) and checking a
// sliver against its commitment are pure functions of the sliver's bytes;
// the simulator does each once per distinct sliver for all the nodes that
// hold or receive it (extend.go), where each storage node would do it
// again. What nodes serve, prove, answer and store is unchanged.
//
// Storage challenges run on the storage node's own code: the machine
// opens a window once an epoch, each node handed the ChallengeOpened event
// (Node.Apply) blacks out the sampled blobs and answers from its stored
// slivers with control.BuildAnswer, and its answer goes through
// node.Control's Submit into the simulated sequencer; the machine checks
// every byte, refuses a wrong answer, fails who did not answer and evicts
// a node after three failed windows in a row. A node whose recovery
// proves a blob inconsistent (recovery.Job's proofs) keeps the proof on
// its disk and has the blob marked invalid as a storage node does:
// members check the proof against the blob ID alone (Codec.VerifyProof)
// and sign control.InvalidMessage, and attestations worth f + 1 shards go
// to the machine as InvalidateBlob; a node that restarts takes up the
// proofs on its disk again. Not modelled: the blackout on serving. The
// node blacks out the sampled blobs, but the simulated peers answer
// recovery and sync calls from their holders without asking it: with the
// simulator's twenty blobs a window samples a large share of all data,
// and refusing it stalls shard sync and recovery far beyond what a real
// network sees (tried: shard sync then gave up the previous owner of
// every shard whose batch held a sampled blob and rebuilt the rest by
// recovery, about half the bytes of an epoch change).
//
// An injected bug can live in the storage node's own code too:
// BugCorruptAnswer (node.Embedding.Bug) makes the first node corrupt its
// challenge answers, and the simulator reports the honest node failing.
//
// # Faults and invariants
//
// Crashes (a node is down for a few seconds and keeps only what its store
// synced),
// disk wipes (it loses everything, its event cursor included) and
// partitions (1-3 nodes cut off from their peers and the writer for
// 5-15 s; the control plane still reaches them) are injected at seeded
// times, never more than f shards' worth of nodes degraded at once (down,
// cut off, Byzantine, or missing pairs of a blob being stored). Messages
// between nodes and between the writer and nodes are lost or slow at the
// run's rates: a synchronous call (a recovery round, a sync batch) fails
// on a lost or slow message, an upload arrives late; an upload is lost
// only within the fault budget. Byzantine nodes, chosen at genesis and
// counted in the budget, are liars (they flip a byte of every recovery
// and sync answer) or droppers (they confirm uploads, then drop the
// slivers, never rebuild, and attest their syncs unfetched). A malicious
// writer (Config.Inconsistent) encodes some blobs with one row at odds
// with its columns (forge.TamperRow) and withholds every pair from the
// honest node that holds that row.
//
// After every batch of events at one simulated instant the simulator
// checks that every certified valid blob whose slivers changed still has
// kp primary slivers on honest nodes equal to the writer's (a shard's
// owner, or while a change is not done the node that still serves it):
// every stored sliver was verified against the blob ID and any kp of
// them decode, so the count is exact. The codec reads blobs back, from kp
// honest slivers chosen with the seed, at certification, once per epoch
// for a seeded blob and for every blob at the end. It checks that no
// honest node lost a sliver it acknowledged, by a confirmation or by
// attesting its sync, except through an injected wipe; that honest nodes
// pass every challenge they answered or owed (a fault from 15 s before a
// window to its deadline excuses a node, and a node that lacks only
// pairs it never had fails without a violation); that every inconsistent
// blob certified is marked invalid within an epoch and no valid blob is;
// and, with churn, that every shard has exactly one owner, a member with
// weight that is not leaving, in every epoch, and that every epoch change
// is done within half an epoch of its start (never superseded). A sync's
// bytes count as the run's sync bytes (requests and answers on the sync
// wire, and the recovery traffic of what had to be rebuilt), against the
// sliver bytes of the pairs the node lacked; repair bytes count against
// the bytes of the slivers rebuilt. With the small blobs the simulator
// uses, a symbol is a few bytes and the wire's per-symbol framing
// dominates, so both ratios sit well above 1; TestRepairBytesMatchLost
// shows repair at about 1.04× with 256 KiB blobs.
package sim
