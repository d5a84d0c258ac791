// Package control is Weft's control plane state machine: the facts every
// storage node and client must agree on — the network's parameters, the
// committee and shard map of each epoch, and every blob's lifecycle from
// registration to certification, expiry, deletion or invalidation.
//
// The Machine is deterministic and does no I/O of its own: it reads and
// writes a Store it is handed, time is the block time given to Begin, and
// its output is ordered Events with global sequence numbers. The same
// transactions in the same blocks give the same state and the same app
// hash on every replica. Package engine runs it as a CometBFT ABCI
// application; tests drive it directly.
//
// A block is applied as Begin(height, time), Deliver(tx) for each
// transaction, End() (which may advance the epoch by time), Commit() (which
// returns the app hash: a chain over every block's sorted writes).
package control
