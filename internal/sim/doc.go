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
// decoding) and the storage node (internal/node). With churn
// (Config.Churn), membership changes through the machine's own
// transactions: a new node sends RegisterNode from its own key and the
// genesis admin key gives it weight with SetWeight, a member sends
// LeaveCommittee; the machine advances the epoch by block time, deals the
// shards with control.AssignShards and ends the change when members
// worth n − f shards have sent EpochSyncDone.
//
// Each node's disk is the storage node's own store (internal/store, Pebble)
// on a crashable in-memory disk (store.MemDisk, over Pebble's vfs): slivers,
// blob records, the recovery queue, shard states and the event cursor are
// written as a storage node writes them, a crash keeps only what was
// synced (MemDisk.Crash), and a wipe starts an empty one.
//
// Over that store each simulated node opens the storage node itself
// (node.Embed: no listener, no loops, the machine behind node.Control, the
// simulated clock, its calls to peers through Embedding.Post) and drives
// it from the event loop:
//
//   - Uploads and confirmations are requests to its HTTP API
//     (Node.Handler, served within the event loop): PUT of each sliver
//     message (the node checks the shard is its own, the blob live, the
//     sizes right and the sliver against its commitment, then stores it)
//     and GET of the confirmation (signed only once every pair of its
//     shards is stored).
//   - Every event of the machine goes to Node.Apply: the node records a
//     blob, queues a certified one it lacks pairs of for recovery,
//     deletes one that is gone; blacks out a challenge window's sampled
//     blobs and answers the window with its own buildAnswer, submitted
//     through node.Control into the sequencer; plans an epoch change
//     (what it gained and from whom, what it now serves read-only); and
//     drops the shards it gave up once the change is done and their new
//     owners attested.
//   - Recovery is its persistent queue and scheduler (Node.RecoverDue at
//     Node.RecoveryWake) running its Healer, whose calls go over the
//     simulated network to peers whose own nodes answer from their stores
//     as their API does (Node.ServeSymbols: blobs blacked out for a
//     challenge withheld, the node's cache of extended slivers); a call
//     to itself is Node.ServeOwnSymbols, as in weft node.
//   - Shard sync is its own, a step at a time (Node.StepSync, at the time
//     each step asks for): a page of live blobs pulled from the previous
//     owner with a signed request that the previous owner's own node
//     serves (its HTTP API, through Embedding.Post over the simulated
//     network, refusing blobs it has blacked out for a challenge), the
//     slivers verified against the blob ID and stored; what the previous
//     owner cannot give handed to the recovery queue; a check pass; then
//     its EpochSyncDone, submitted through node.Control. A batch holding
//     a blob under an open challenge window waits for the window to close.
//   - Its scrub (Node.Scrub) passes over its store once an epoch,
//     re-verifies every sliver against its commitment, drops what is
//     missing or wrong and queues the blob for recovery.
//
// The writer stores blobs with the SDK's store path (package
// internal/upload, which client.Store runs too): each round plans the
// pairs of the committee of the moment (upload.Round), sends each member
// its slivers as PUTs to the node's own HTTP API, upload.PerNode in
// flight, then asks for its confirmation, every request tried as the SDK
// tries it (upload.Tries, upload.Backoff, upload.Final); it checks each
// confirmation, counts shards to a quorum, goes on upload.Grace, then
// submits the certificate; a round an epoch change explains is tried
// again with only what members lack (upload.Again); a store that fails
// is run again by its user 10 s later (wr-retry). The SDK's goroutines,
// HTTP client and timers are the event loop's messages and timers here;
// its registration (client.ensureRegistration, which looks up an
// earlier registration of the same content) is a single RegisterBlob, as
// the simulator's blobs are fresh. A lost message is an error at the
// writer after its delay.
//
// Network calls are messages with seeded latencies; a recovery job's
// rounds run within one simulated instant, a shard sync page takes at
// least 20 ms. The symbols wire is encoded and decoded on every call; the
// HTTP around it is not (the answer is Node.ServeSymbols's, which POST
// /v1/symbols writes out).
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
// proofs on its disk again.
//
// An injected bug can live in the storage node's own code
// (node.Embedding.Bug): BugCorruptAnswer makes the first node corrupt its
// challenge answers, and the simulator reports the honest node failing;
// BugAttestUnsynced makes every node call its gained shards ready without
// syncing them, and the simulator reports pairs lost that nodes attested;
// BugNeverAttest makes every node sync without attesting, and no epoch
// change is done in time; BugClassicRepair makes every node's recovery
// fetch its sources' whole slivers, as a classic erasure code's repair
// does, and the simulator reports repair moving more than was lost.
//
// # Faults and invariants
//
// Crashes (a node is down for a few seconds and keeps only what its store
// synced),
// disk wipes (it loses everything, its event cursor included), bit rot
// (Config.RotRate: a byte flips in one sliver on an honest node's disk;
// until its scrub drops the sliver, the node serves and answers
// challenges from the rotten bytes, as a real one would) and
// partitions (1-3 nodes cut off from their peers and the writer for
// 5-15 s; the control plane still reaches them) are injected at seeded
// times, never more than f shards' worth of nodes degraded at once (down,
// cut off, Byzantine, or missing pairs of a blob being stored). Messages
// between nodes and between the writer and nodes are lost or slow at the
// run's rates: a synchronous call (a recovery round, a sync batch) fails
// on a lost or slow message, an upload arrives late; an upload is lost
// only within the fault budget. Byzantine nodes, chosen at genesis and
// counted in the budget, are liars (they flip a byte of every recovery
// answer and of every primary sliver in their sync answers) or droppers
// (they confirm uploads, then drop the slivers, never rebuild, and attest
// their syncs unfetched). A malicious writer (Config.Inconsistent)
// encodes some blobs with one row at odds with its columns
// (forge.TamperRow) and withholds every pair from the honest node that
// holds that row; when the fault budget has no room for that victim, it
// puts the blob off for 5 s, up to 12 times, before storing it honestly.
//
// After every batch of events at one simulated instant the simulator
// checks that every certified valid blob whose slivers changed still has
// kp primary slivers on honest nodes equal to the writer's (a shard's
// owner, or while a change is not done the node that still serves it):
// every stored sliver was verified against the blob ID and any kp of
// them decode, so the count is exact. The codec reads blobs back from kp
// honest slivers: chosen with the seed at certification and for every
// blob at the end, the lowest rows held once per epoch for a seeded blob
// (Decode is remembered by the rows it decodes from); at certification and
// once per epoch the same blob is also read with the SDK's read path
// (download.Read) through the nodes' APIs, and a read that fails or
// returns other bytes is a violation (rd-fail counts them): with at most
// f shards faulty, n − f rows answer and a read needs n − 2f. It checks that no
// honest node lost a sliver it acknowledged, by a confirmation or by
// attesting its sync (once its EpochSyncDone is in a block: every pair of
// its gained shards of the blobs certified when the change began),
// except through an injected wipe; that honest nodes
// pass every challenge they answered or owed (a fault from 15 s before a
// window to its deadline, or rot not yet scrubbed, excuses a node, and a node that lacks only
// pairs it never had fails without a violation); that every inconsistent
// blob certified is marked invalid within two epochs and no valid blob is;
// that every sliver that rotted is found by the node's own code within
// two epochs (two scrub passes); and, with churn, that every shard has
// exactly one owner, a member with weight that is not leaving, in every
// epoch, and that every epoch change is done within half an epoch of its
// start (never superseded). Sync bytes are the requests and answers on
// the sync wire, against the sliver bytes of the gained pairs nodes
// lacked when the change began; what a previous owner could not give
// goes to the recovery queue, and its traffic counts as repair. Repair
// bytes count against the bytes of the slivers rebuilt. Both are
// invariants too, checked at each epoch's end over the run so far (once
// 100 slivers were rebuilt, or 100 pairs lacked): the symbols repair
// fetched without proofs, for blobs whose repair met no mismatch, stay
// within 2× the bytes of the slivers it rebuilt for them (sym/lost), and
// the slivers sync fetched within 2× the bytes of the pairs nodes lacked
// (sl/need). What the bound leaves out is shown in rep/lost and
// sync/need: what blobs whose repair met a lie or an inconsistent
// encoding cost to find it out (spares from every peer, checks,
// proofs), and what is paid per symbol, peer and pair (a 32-byte blob
// ID in each request, the pair commitments a wiped node fetches to check
// what it rebuilt, Merkle paths). With the small blobs the simulator
// uses (up to 64 KiB: at n = 1000 a symbol is 2 bytes for any blob under
// 445 KB, so a larger one costs the run no more), a sliver is under
// 1.4 KB at n = 1000, and those weigh more than they would with real
// blobs: repair moves about 2× what it rebuilds in the headline run,
// where TestRepairBytesMatchLost shows about 1.04× with 256 KiB blobs.
// Blobs of up to 4 KiB, the default before, made symbols 2 bytes at
// n = 100 too, where the 40-odd bytes that name a blob and its sources
// in each request to each peer made repair move about 19× what it
// rebuilt; blobs of up to 64 KiB, in the same time, about 4×.
package sim
