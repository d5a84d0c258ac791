package sim

import (
	"crypto/sha256"
	"slices"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/redstuff"
)

// An extended sliver (redstuff.SymbolSource: the sliver's parity symbols
// and Merkle tree) is a pure function of the sliver, so the simulator
// keeps one per distinct sliver for all the nodes that hold it, across
// their crashes: in a real network each node extends its own, but
// extending the same bytes again would only cost time here. Serving,
// proofs and challenge answers still run on every request. A source is
// found by the sliver's bytes (their digest) and its pair's commitment,
// so a node holding different bytes (a rebuilt sliver of an inconsistent
// blob) never gets another's extension.
type extKey struct {
	id     blob.ID
	pair   int
	kind   blob.SliverKind
	digest [32]byte
}

type extension struct {
	src  *redstuff.SymbolSource
	pc   blob.PairCommitment
	size int64
}

// verifySliver is the codec's VerifySliver, remembered for slivers
// that passed: the same bytes of a pair, with the same commitment, are
// checked once for all the nodes that receive them (by upload, sync or
// recovery).
func (s *Sim) verifySliver(id blob.ID, length uint64, sl *blob.Sliver, pc *blob.PairCommitment) error {
	key := s.extKey(id, int(pc.Pair), sl)
	if v, ok := s.verified[key]; ok && samePair(&v, pc) {
		return nil
	}
	if err := s.codec.VerifySliver(id, length, sl, pc); err != nil {
		return err
	}
	s.verified[key] = *pc
	return nil
}

// extensionBytes bounds the kept extensions, each counted with its Merkle
// tree; beyond it the oldest are forgotten.
const extensionBytes = 1 << 30

func (s *Sim) extKey(id blob.ID, pair int, sl *blob.Sliver) extKey {
	return extKey{id: id, pair: pair, kind: sl.Kind, digest: sha256.Sum256(sl.Data)}
}

// extension returns the kept extension of a sliver, or nil.
func (s *Sim) extension(id blob.ID, pair int, sl *blob.Sliver, pc *blob.PairCommitment) *redstuff.SymbolSource {
	e := s.exts[s.extKey(id, pair, sl)]
	if e == nil || !samePair(&e.pc, pc) {
		return nil
	}
	return e.src
}

// extend is a storage node's way to extend a stored sliver (for a
// challenge answer), through the kept extensions.
func (s *Sim) extend(id blob.ID, length uint64, sl *blob.Sliver, pc *blob.PairCommitment) (*redstuff.SymbolSource, error) {
	pair := int(pc.Pair)
	if src := s.extension(id, pair, sl, pc); src != nil {
		return src, nil
	}
	src, err := s.codec.NewSymbolSource(length, sl, pc)
	if err != nil {
		return nil, err
	}
	s.keepExtension(id, pair, sl, pc, src)
	return src, nil
}

// keepExtension keeps an extended sliver for every node that holds the
// same bytes.
func (s *Sim) keepExtension(id blob.ID, pair int, sl *blob.Sliver, pc *blob.PairCommitment, src *redstuff.SymbolSource) {
	key := s.extKey(id, pair, sl)
	if s.exts[key] != nil {
		return
	}
	e := &extension{src: src, pc: *pc, size: s.extSize(sl)}
	s.exts[key] = e
	s.extOrder = append(s.extOrder, key)
	s.extBytes += e.size
	for s.extBytes > extensionBytes && len(s.extOrder) > 0 {
		old := s.extOrder[0]
		s.extOrder = s.extOrder[1:]
		if e := s.exts[old]; e != nil {
			delete(s.exts, old)
			s.extBytes -= e.size
		}
	}
}

// extSize is about what an extension holds once its tree is built: the
// extended sliver and the tree's levels from redstuff's kept level up
// (about n/4 hashes).
func (s *Sim) extSize(sl *blob.Sliver) int64 {
	return int64(s.p.N*int(sl.SymbolSize)) + int64((s.p.N/4+16)*32)
}

// dropExtensions forgets the extensions of a blob gone from the network.
func (s *Sim) dropExtensions(id blob.ID) {
	for k := range s.verified {
		if k.id == id {
			delete(s.verified, k)
		}
	}
	for k, e := range s.exts {
		if k.id == id {
			delete(s.exts, k)
			s.extBytes -= e.size
		}
	}
}

func samePair(a, b *blob.PairCommitment) bool {
	return a.Pair == b.Pair && a.Primary == b.Primary && a.Secondary == b.Secondary && slices.Equal(a.Path, b.Path)
}

// decode is the codec's Decode, remembered for the rows it decodes from:
// Decode uses the kp distinct rows of lowest index it is given and
// checks the result against the blob ID by encoding it again, a pure
// function of those rows that would cost a whole encoding at every read.
// A read from the same rows (the same bytes) gets the bytes it gave.
func (s *Sim) decode(id blob.ID, length uint64, slivers []blob.Sliver) ([]byte, error) {
	rows := make([]*blob.Sliver, 0, len(slivers))
	for i := range slivers {
		rows = append(rows, &slivers[i])
	}
	slices.SortStableFunc(rows, func(a, b *blob.Sliver) int { return int(a.Index) - int(b.Index) })
	h := sha256.New()
	used := 0
	for i, sl := range rows {
		if used == s.p.Kp || sl.Kind != blob.Primary {
			break
		}
		if i > 0 && rows[i-1].Index == sl.Index {
			continue
		}
		h.Write([]byte{byte(sl.Index >> 24), byte(sl.Index >> 16), byte(sl.Index >> 8), byte(sl.Index)})
		h.Write(sl.Data)
		used++
	}
	key := decodeKey{id: id, length: length}
	h.Sum(key.rows[:0])
	if data, ok := s.decoded[key]; ok {
		return data, nil
	}
	data, err := s.codec.Decode(id, length, slivers)
	if err == nil {
		s.decoded[key] = data
	}
	return data, err
}

type decodeKey struct {
	id     blob.ID
	length uint64
	rows   [32]byte
}
