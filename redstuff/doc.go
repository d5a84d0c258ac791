// Package redstuff is Weft's erasure codec: the two-dimensional
// Reed–Solomon construction (RedStuff) over GF(2^16), with the compact
// commitments that let every sliver and every single symbol be checked
// against nothing but a blob ID.
//
// A blob of L bytes fills a kp × ks matrix of s-byte symbols. Extending
// its columns to n rows and its rows to n columns gives the n × n grid.
// Row r is primary sliver r (stored as its first ks symbols), column c is
// secondary sliver c (stored as its first kp symbols), and pair p — primary
// p with secondary n−1−p — lives on one shard.
//
// Writing a blob:
//
//	codec, _ := redstuff.New(n)
//	enc, _ := codec.Encode(data)       // enc.ID, enc.Primary, enc.Secondary, enc.Pairs
//	// send pair p's slivers and enc.Pairs[p] to shard Params().ShardOf(enc.ID, p)
//	enc.Release()                      // optional: recycle the memory
//
// A node receiving a sliver checks it with VerifySliver. To heal, a node
// that lost primary sliver r asks holders of secondary slivers for symbol
// (r, c) — each cuts it from its sliver with a SymbolSource — and calls
// Rebuild with any ks of them; a lost secondary sliver needs kp symbols
// from primary slivers. Symbols travel without proofs; only when the
// rebuilt sliver misses its commitment are proven symbols fetched, which
// either names the lying peer (BadSymbolError) or proves the blob
// inconsistent (InconsistencyError, checked by VerifyInconsistencyProof).
//
// A reader fetches any kp primary slivers, verifies each, and calls
// Decode, which copies the systematic rows when it has them, decodes
// otherwise, and always re-encodes to check the blob ID, so an
// inconsistent encoding is reported rather than returned.
//
// The code's exact layout is frozen by testdata/golden.json.
package redstuff
