// Package migration is the storage node's side of shard migration at an
// epoch change (DESIGN §10), as pure code driven by the caller:
//
//   - Plan compares the committees of epochs e−1 and e and says which
//     shards a node gained (and from which previous owner) and which it
//     gave up.
//   - Progress is a shard's persisted state: syncing (pulling from the
//     previous owner, with a cursor), recovering (the previous owner is
//     gone: every blob is rebuilt from the committee), ready, or readOnly
//     (given up: served until the epoch change is done, then dropped).
//   - Puller runs one gained shard's sync like recovery.Job runs a
//     recovery: the caller pages the live blobs, asks the Puller for the
//     next Batch, sends its Request to the previous owner, and Delivers the
//     answer (or the error) with the time; the Puller verifies every
//     sliver against the blob ID and returns what to store and what to
//     hand to recovery. It does no I/O and reads no clock.
//   - The wire format of POST /v1/shards/{shard}/sync (Request, Response),
//     versioned, with decoders that bound what they allocate.
package migration
