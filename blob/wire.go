package blob

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// WireVersion is the version byte that starts every binary encoding in this
// package. A decoder refuses any other version.
const WireVersion = 1

// Type tags, the second byte of every encoding, so that one kind of value
// is never mistaken for another.
const (
	tagPairCommitment     = 'C'
	tagSliver             = 'S'
	tagRecoverySymbol     = 'R'
	tagInconsistencyProof = 'I'
	tagSliverMessage      = 'M'
	tagPairsProof         = 'P'
)

// Limits on decoded values. They bound what a decoder will accept from the
// wire before any allocation.
const (
	// MaxPathLen is the longest Merkle path: trees have at most 65 536 leaves.
	MaxPathLen = 16
	// MaxSymbols is the most symbols an inconsistency proof may carry.
	MaxSymbols = 65536
	// MaxPairsSymbols is the most symbols a pairs inconsistency proof may
	// carry: both slivers of a few pairs.
	MaxPairsSymbols = 1 << 20
)

// ErrWire is wrapped by every decoding error.
var ErrWire = errors.New("blob: malformed wire data")

func wireErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrWire, fmt.Sprintf(format, args...))
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = wireErr(format, args...)
	}
}

func (r *reader) take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.fail("truncated %s: need %d bytes, have %d", what, n, len(r.b))
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8(what string) uint8 {
	b := r.take(1, what)
	if b == nil {
		return 0
	}
	return b[0]
}

func (r *reader) u32(what string) uint32 {
	b := r.take(4, what)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

func (r *reader) hash(what string) (h Hash) {
	copy(h[:], r.take(HashSize, what))
	return h
}

func (r *reader) header(tag byte, what string) {
	v := r.u8("version")
	t := r.u8("type")
	if r.err != nil {
		return
	}
	if v != WireVersion {
		r.fail("%s: unsupported version %d", what, v)
	}
	if t != tag {
		r.fail("%s: wrong type tag %q", what, t)
	}
}

func (r *reader) kind(what string) SliverKind {
	k := SliverKind(r.u8(what))
	if r.err == nil && k != Primary && k != Secondary {
		r.fail("bad %s %d", what, k)
	}
	return k
}

func (r *reader) bytes32(what string, max int) []byte {
	n := r.u32(what + " length")
	if r.err != nil {
		return nil
	}
	if int64(n) > int64(max) {
		r.fail("%s length %d exceeds %d", what, n, max)
		return nil
	}
	return r.take(int(n), what)
}

func (r *reader) end(what string) error {
	if r.err == nil && len(r.b) != 0 {
		r.fail("%s: %d trailing bytes", what, len(r.b))
	}
	return r.err
}

func appendHeader(b []byte, tag byte) []byte { return append(b, WireVersion, tag) }

func appendPair(b []byte, c *PairCommitment) []byte {
	b = binary.BigEndian.AppendUint32(b, c.Pair)
	b = append(b, c.Primary[:]...)
	b = append(b, c.Secondary[:]...)
	b = append(b, byte(len(c.Path)))
	for i := range c.Path {
		b = append(b, c.Path[i][:]...)
	}
	return b
}

func (r *reader) pair() PairCommitment {
	var c PairCommitment
	c.Pair = r.u32("pair index")
	c.Primary = r.hash("primary root")
	c.Secondary = r.hash("secondary root")
	c.Path = r.path()
	return c
}

func (r *reader) path() []Hash {
	n := int(r.u8("path length"))
	if r.err != nil {
		return nil
	}
	if n > MaxPathLen {
		r.fail("path length %d exceeds %d", n, MaxPathLen)
		return nil
	}
	raw := r.take(n*HashSize, "path")
	if raw == nil {
		return nil
	}
	p := make([]Hash, n)
	for i := range p {
		copy(p[i][:], raw[i*HashSize:])
	}
	return p
}

func appendPath(b []byte, p []Hash) []byte {
	b = append(b, byte(len(p)))
	for i := range p {
		b = append(b, p[i][:]...)
	}
	return b
}

// AppendPairCommitment appends c's encoding without a header, as other
// messages embed it (here and in the recovery symbols protocol): pair
// u32, primary root, secondary root, path length u8, path. A path longer
// than MaxPathLen is an error.
func AppendPairCommitment(b []byte, c *PairCommitment) ([]byte, error) {
	if err := checkPathLen(c.Path); err != nil {
		return nil, err
	}
	return appendPair(b, c), nil
}

// ReadPairCommitment decodes a commitment written by AppendPairCommitment
// at the start of data and returns the bytes after it.
func ReadPairCommitment(data []byte) (PairCommitment, []byte, error) {
	r := reader{b: data}
	c := r.pair()
	return c, r.b, r.err
}

// AppendPath appends a Merkle path (length u8, then the hashes) as
// commitments and symbols carry it.
func AppendPath(b []byte, p []Hash) ([]byte, error) {
	if err := checkPathLen(p); err != nil {
		return nil, err
	}
	return appendPath(b, p), nil
}

// ReadPath decodes a path written by AppendPath at the start of data and
// returns the bytes after it.
func ReadPath(data []byte) ([]Hash, []byte, error) {
	r := reader{b: data}
	p := r.path()
	return p, r.b, r.err
}

func checkPathLen(p []Hash) error {
	if len(p) > MaxPathLen {
		return fmt.Errorf("blob: path of %d hashes exceeds %d", len(p), MaxPathLen)
	}
	return nil
}

// MarshalBinary encodes the commitment:
// version, 'C', pair u32, primary root, secondary root, path length u8, path.
func (c *PairCommitment) MarshalBinary() ([]byte, error) {
	if err := checkPathLen(c.Path); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 2+4+2*HashSize+1+len(c.Path)*HashSize)
	return appendPair(appendHeader(b, tagPairCommitment), c), nil
}

// UnmarshalBinary decodes the form written by MarshalBinary.
func (c *PairCommitment) UnmarshalBinary(data []byte) error {
	r := reader{b: data}
	r.header(tagPairCommitment, "pair commitment")
	v := r.pair()
	if err := r.end("pair commitment"); err != nil {
		return err
	}
	*c = v
	return nil
}

// MarshalBinary encodes the sliver. It refuses what UnmarshalBinary would:
// a bad kind, or data that is not whole symbols of an even size. Layout:
// version, 'S', kind u8, index u32, symbol size u32, data length u32, data.
func (s *Sliver) MarshalBinary() ([]byte, error) {
	return s.AppendBinary(make([]byte, 0, s.BinarySize()))
}

// BinarySize is the length of the sliver's encoding.
func (s *Sliver) BinarySize() int { return 2 + 1 + 4 + 4 + 4 + len(s.Data) }

// AppendBinary appends the encoding MarshalBinary returns to b.
func (s *Sliver) AppendBinary(b []byte) ([]byte, error) {
	if uint64(len(s.Data)) > 1<<32-1 {
		return nil, errors.New("blob: sliver too large")
	}
	if err := checkKind(s.Kind); err != nil {
		return nil, err
	}
	if s.SymbolSize == 0 || s.SymbolSize%2 != 0 || len(s.Data)%int(s.SymbolSize) != 0 {
		return nil, fmt.Errorf("blob: sliver of %d bytes with symbol size %d", len(s.Data), s.SymbolSize)
	}
	b = appendHeader(b, tagSliver)
	b = append(b, byte(s.Kind))
	b = binary.BigEndian.AppendUint32(b, s.Index)
	b = binary.BigEndian.AppendUint32(b, s.SymbolSize)
	b = binary.BigEndian.AppendUint32(b, uint32(len(s.Data)))
	return append(b, s.Data...), nil
}

// UnmarshalBinary decodes the form written by MarshalBinary. The sliver's
// data aliases data. The data length must be a whole number of symbols.
func (s *Sliver) UnmarshalBinary(data []byte) error {
	r := reader{b: data}
	r.header(tagSliver, "sliver")
	var v Sliver
	v.Kind = r.kind("sliver kind")
	v.Index = r.u32("sliver index")
	v.SymbolSize = r.u32("symbol size")
	v.Data = r.bytes32("sliver data", len(data))
	if err := r.end("sliver"); err != nil {
		return err
	}
	if v.SymbolSize == 0 || v.SymbolSize%2 != 0 {
		return wireErr("sliver: bad symbol size %d", v.SymbolSize)
	}
	if len(v.Data)%int(v.SymbolSize) != 0 {
		return wireErr("sliver: %d bytes is not a whole number of %d-byte symbols", len(v.Data), v.SymbolSize)
	}
	*s = v
	return nil
}

func appendSymbol(b []byte, s *RecoverySymbol) []byte {
	b = append(b, byte(s.Source))
	b = binary.BigEndian.AppendUint32(b, s.Row)
	b = binary.BigEndian.AppendUint32(b, s.Col)
	b = binary.BigEndian.AppendUint32(b, uint32(len(s.Data)))
	b = append(b, s.Data...)
	if s.Proof == nil {
		return append(b, 0)
	}
	b = append(b, 1)
	b = appendPath(b, s.Proof.Path)
	return appendPair(b, &s.Proof.Pair)
}

func (r *reader) symbol() RecoverySymbol {
	var s RecoverySymbol
	s.Source = r.kind("symbol source")
	s.Row = r.u32("symbol row")
	s.Col = r.u32("symbol column")
	s.Data = r.bytes32("symbol data", len(r.b))
	switch r.u8("proof flag") {
	case 0:
	case 1:
		p := &SymbolProof{}
		p.Path = r.path()
		p.Pair = r.pair()
		s.Proof = p
	default:
		r.fail("bad proof flag")
	}
	if r.err == nil && (len(s.Data) == 0 || len(s.Data)%2 != 0) {
		r.fail("symbol of %d bytes", len(s.Data))
	}
	return s
}

// appendSymbols appends a u32 count and the symbols, each checked.
func appendSymbols(b []byte, syms []RecoverySymbol) ([]byte, error) {
	b = binary.BigEndian.AppendUint32(b, uint32(len(syms)))
	for i := range syms {
		if err := checkSymbol(&syms[i]); err != nil {
			return nil, err
		}
		b = appendSymbol(b, &syms[i])
	}
	return b, nil
}

func checkKind(k SliverKind) error {
	if k != Primary && k != Secondary {
		return fmt.Errorf("blob: bad sliver kind %d", k)
	}
	return nil
}

func checkSymbol(s *RecoverySymbol) error {
	if uint64(len(s.Data)) > 1<<32-1 {
		return errors.New("blob: symbol too large")
	}
	if err := checkKind(s.Source); err != nil {
		return err
	}
	if len(s.Data) == 0 || len(s.Data)%2 != 0 {
		return fmt.Errorf("blob: symbol of %d bytes", len(s.Data))
	}
	if s.Proof != nil {
		if err := checkPathLen(s.Proof.Path); err != nil {
			return err
		}
		return checkPathLen(s.Proof.Pair.Path)
	}
	return nil
}

// MarshalBinary encodes the symbol: version, 'R', source kind u8, row u32,
// column u32, data length u32, data, proof flag u8, and when the flag is 1
// the symbol's path (length u8, hashes) and its source pair commitment.
func (s *RecoverySymbol) MarshalBinary() ([]byte, error) {
	if err := checkSymbol(s); err != nil {
		return nil, err
	}
	return appendSymbol(appendHeader(nil, tagRecoverySymbol), s), nil
}

// UnmarshalBinary decodes the form written by MarshalBinary. The symbol's
// data aliases data.
func (s *RecoverySymbol) UnmarshalBinary(data []byte) error {
	r := reader{b: data}
	r.header(tagRecoverySymbol, "recovery symbol")
	v := r.symbol()
	if err := r.end("recovery symbol"); err != nil {
		return err
	}
	*s = v
	return nil
}

// MarshalBinary encodes the proof: version, 'I', target kind u8, target
// index u32, target pair commitment, symbol count u32, then each symbol as
// in RecoverySymbol without its header.
func (p *InconsistencyProof) MarshalBinary() ([]byte, error) {
	if len(p.Symbols) > MaxSymbols {
		return nil, fmt.Errorf("blob: %d symbols exceed %d", len(p.Symbols), MaxSymbols)
	}
	if err := checkPathLen(p.TargetPair.Path); err != nil {
		return nil, err
	}
	if err := checkKind(p.Target); err != nil {
		return nil, err
	}
	b := appendHeader(nil, tagInconsistencyProof)
	b = append(b, byte(p.Target))
	b = binary.BigEndian.AppendUint32(b, p.Index)
	b = appendPair(b, &p.TargetPair)
	return appendSymbols(b, p.Symbols)
}

// UnmarshalBinary decodes the form written by MarshalBinary. Symbol data
// aliases data.
func (p *InconsistencyProof) UnmarshalBinary(data []byte) error {
	r := reader{b: data}
	r.header(tagInconsistencyProof, "inconsistency proof")
	var v InconsistencyProof
	v.Target = r.kind("target kind")
	v.Index = r.u32("target index")
	v.TargetPair = r.pair()
	n := r.u32("symbol count")
	if r.err == nil && n > MaxSymbols {
		r.fail("%d symbols exceed %d", n, MaxSymbols)
	}
	// Each symbol takes at least 16 bytes; refuse counts the input cannot hold
	// before allocating for them.
	if r.err == nil && int64(n)*16 > int64(len(r.b)) {
		r.fail("truncated symbols: %d declared in %d bytes", n, len(r.b))
	}
	if r.err == nil {
		v.Symbols = make([]RecoverySymbol, 0, n)
		for i := uint32(0); i < n && r.err == nil; i++ {
			v.Symbols = append(v.Symbols, r.symbol())
		}
	}
	if err := r.end("inconsistency proof"); err != nil {
		return err
	}
	*p = v
	return nil
}

// MarshalBinary encodes the proof: version, 'P', pair count u32, pairs
// (u32 each), commitment count u32, commitments (as in PairCommitment,
// without header), symbol count u32, symbols (as in RecoverySymbol,
// without header).
func (p *PairsInconsistencyProof) MarshalBinary() ([]byte, error) {
	if len(p.Pairs) > MaxSymbols || len(p.Known) > MaxSymbols || len(p.Symbols) > MaxPairsSymbols {
		return nil, errors.New("blob: pairs inconsistency proof too large")
	}
	b := appendHeader(nil, tagPairsProof)
	b = binary.BigEndian.AppendUint32(b, uint32(len(p.Pairs)))
	for _, pair := range p.Pairs {
		b = binary.BigEndian.AppendUint32(b, pair)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(p.Known)))
	for i := range p.Known {
		if err := checkPathLen(p.Known[i].Path); err != nil {
			return nil, err
		}
		b = appendPair(b, &p.Known[i])
	}
	return appendSymbols(b, p.Symbols)
}

// UnmarshalBinary decodes the form written by MarshalBinary. Symbol data
// aliases data.
func (p *PairsInconsistencyProof) UnmarshalBinary(data []byte) error {
	r := reader{b: data}
	r.header(tagPairsProof, "pairs inconsistency proof")
	var v PairsInconsistencyProof
	count := func(what string, max uint32, least int) uint32 {
		n := r.u32(what + " count")
		if r.err == nil && n > max {
			r.fail("%d %s exceed %d", n, what, max)
		}
		if r.err == nil && int64(n)*int64(least) > int64(len(r.b)) {
			r.fail("truncated %s: %d declared in %d bytes", what, n, len(r.b))
		}
		if r.err != nil {
			return 0
		}
		return n
	}
	np := count("pairs", MaxSymbols, 4)
	if np > 0 {
		v.Pairs = make([]uint32, 0, np)
	}
	for i := uint32(0); i < np && r.err == nil; i++ {
		v.Pairs = append(v.Pairs, r.u32("pair"))
	}
	nk := count("commitments", MaxSymbols, 4+2*HashSize+1)
	if nk > 0 {
		v.Known = make([]PairCommitment, 0, nk)
	}
	for i := uint32(0); i < nk && r.err == nil; i++ {
		v.Known = append(v.Known, r.pair())
	}
	ns := count("symbols", MaxPairsSymbols, 16)
	if ns > 0 {
		v.Symbols = make([]RecoverySymbol, 0, ns)
	}
	for i := uint32(0); i < ns && r.err == nil; i++ {
		v.Symbols = append(v.Symbols, r.symbol())
	}
	if err := r.end("pairs inconsistency proof"); err != nil {
		return err
	}
	*p = v
	return nil
}

// SliverMessage is how a sliver travels between clients and nodes: the
// sliver with the commitment of its pair, which is all a receiver needs
// (with the blob's length) to check it against the blob ID.
type SliverMessage struct {
	Commitment PairCommitment
	Sliver     Sliver
}

// MarshalBinary encodes the message: version, 'M', commitment length u32,
// the commitment's encoding, then the sliver's encoding.
func (m *SliverMessage) MarshalBinary() ([]byte, error) {
	c, err := m.Commitment.MarshalBinary()
	if err != nil {
		return nil, err
	}
	// One allocation and one copy of the sliver's data.
	b := make([]byte, 0, 6+len(c)+m.Sliver.BinarySize())
	b = appendHeader(b, tagSliverMessage)
	b = binary.BigEndian.AppendUint32(b, uint32(len(c)))
	b = append(b, c...)
	return m.Sliver.AppendBinary(b)
}

// UnmarshalBinary decodes the form written by MarshalBinary. The sliver's
// data aliases data.
func (m *SliverMessage) UnmarshalBinary(data []byte) error {
	r := reader{b: data}
	r.header(tagSliverMessage, "sliver message")
	c := r.bytes32("commitment", 2+4+2*HashSize+1+MaxPathLen*HashSize)
	if r.err != nil {
		return r.err
	}
	var v SliverMessage
	if err := v.Commitment.UnmarshalBinary(c); err != nil {
		return err
	}
	if err := v.Sliver.UnmarshalBinary(r.b); err != nil {
		return err
	}
	*m = v
	return nil
}

// Proof is either form of inconsistency proof: *InconsistencyProof or
// *PairsInconsistencyProof.
type Proof interface {
	MarshalBinary() ([]byte, error)
	inconsistencyProof()
}

func (*InconsistencyProof) inconsistencyProof()      {}
func (*PairsInconsistencyProof) inconsistencyProof() {}

// DecodeProof decodes an inconsistency proof in either wire form, told
// apart by its type tag. Symbol data aliases data.
func DecodeProof(data []byte) (Proof, error) {
	if len(data) < 2 {
		return nil, wireErr("inconsistency proof of %d bytes", len(data))
	}
	var p interface {
		Proof
		UnmarshalBinary([]byte) error
	}
	switch data[1] {
	case tagInconsistencyProof:
		p = &InconsistencyProof{}
	case tagPairsProof:
		p = &PairsInconsistencyProof{}
	default:
		return nil, wireErr("not an inconsistency proof (type %q)", data[1])
	}
	if err := p.UnmarshalBinary(data); err != nil {
		return nil, err
	}
	return p, nil
}
