// Package recovery is how a storage node rebuilds the slivers it lacks
// from small pieces of its peers' slivers: the wire format of the batched
// symbols exchange, the serving side (Serve), the rebuilding of a batch of
// blobs as a pure state machine (Job), and the queue that schedules such
// batches in the background (Scheduler).
//
// Nothing here does I/O or reads the clock: the node (internal/node) sends
// a Job's calls over HTTP, feeds back the answers, stores what comes out,
// and drives the Scheduler with the time.
//
// # Cost
//
// Rebuilding primary sliver r takes one symbol (r, c) from each of ks
// holders of secondary slivers c; rebuilding secondary sliver c takes one
// symbol (r, c) from each of kp holders of primary slivers r. So a pair
// costs about one pair's worth of symbols, whatever the blob's size. A
// pair lost whole is rebuilt in two steps when it must be: the secondary
// sliver first (kp = n − 2f sources), then the primary with that
// secondary as one of its ks = n − f sources, so that f shards' worth of
// peers unable to help do not stop it. A job asks 1% more sources than
// it needs (spares for peers that fail), every source of a peer before
// the next peer's so that a blob is asked of few peers,
// no proofs, and nothing per symbol but its bytes; a node that lost its
// pair commitments also fetches one neighbour's commitment per pair (see
// redstuff.CheckPairs).
//
// # Trust
//
// Nothing a peer sends is believed. Unproven symbols are used only
// through the check of the rebuilt sliver against its commitment (or of
// the rebuilt pair against the blob ID). On a mismatch the job first
// rebuilds with each peer's symbols left out in turn; a peer whose
// absence makes the check pass is asked for its symbols at that position
// with proofs, and banned if they fail. Otherwise (no one peer to blame,
// or its proofs hold) the group is asked again with proofs: each proven symbol is checked against the blob ID on
// arrival, so a lying peer is caught, banned for the job and reported; if
// proven symbols still disagree with the commitment, the blob is
// inconsistently encoded, and the job returns a proof anyone can check
// against the blob ID: a blob.InconsistencyProof when the node knew the
// commitment it failed against, a blob.PairsInconsistencyProof (whole
// pairs rebuilt from proven symbols, with the neighbours' commitments)
// when it did not.
package recovery
