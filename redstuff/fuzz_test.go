package redstuff

import (
	"bytes"
	"testing"

	"github.com/weftnet/weft/blob"
)

// fuzzBlob is the fixed blob the fuzzers try to forge data for.
func fuzzBlob(t testing.TB) (*Codec, *Encoded) {
	c := codecFor(t, 7)
	e, err := c.Encode(goldenData(3000))
	if err != nil {
		t.Fatal(err)
	}
	return c, e
}

// FuzzVerifyWire feeds arbitrary wire data to the decoders and verifiers a
// node exposes to peers. Nothing may panic, and nothing but the genuine
// value may pass verification against the blob ID.
func FuzzVerifyWire(f *testing.F) {
	c, e := fuzzBlob(f)
	for pair := 0; pair < 7; pair += 3 {
		sl := e.Sliver(blob.Primary, pair)
		b, _ := sl.MarshalBinary()
		f.Add(byte(0), b)
		pc, _ := e.Pairs[pair].MarshalBinary()
		f.Add(byte(1), pc)
		ss, err := c.NewSymbolSource(e.Length, &sl, &e.Pairs[pair])
		if err != nil {
			f.Fatal(err)
		}
		sym, _ := ss.Symbol(pair, true)
		sb, _ := sym.MarshalBinary()
		f.Add(byte(2), sb)
	}
	f.Fuzz(func(t *testing.T, kind byte, data []byte) {
		switch kind % 3 {
		case 0:
			var sl blob.Sliver
			if sl.UnmarshalBinary(data) != nil || int(sl.Index) >= 7 {
				return
			}
			pair := c.Params().PairOf(sl.Kind, int(sl.Index))
			if c.VerifySliver(e.ID, e.Length, &sl, &e.Pairs[pair]) == nil {
				want := e.Sliver(sl.Kind, int(sl.Index))
				if !bytes.Equal(sl.Data, want.Data) || sl.SymbolSize != want.SymbolSize {
					t.Fatalf("forged %s sliver %d verified", sl.Kind, sl.Index)
				}
			}
		case 1:
			var pc blob.PairCommitment
			if pc.UnmarshalBinary(data) != nil {
				return
			}
			if c.VerifyCommitment(e.ID, e.Length, &pc) == nil {
				want := e.Pairs[pc.Pair]
				if pc.Primary != want.Primary || pc.Secondary != want.Secondary {
					t.Fatalf("forged commitment of pair %d verified", pc.Pair)
				}
			}
		case 2:
			var sym blob.RecoverySymbol
			if sym.UnmarshalBinary(data) != nil {
				return
			}
			if c.VerifySymbol(e.ID, e.Length, &sym) == nil {
				src, pos := symbolPos(&sym)
				sl := e.Sliver(sym.Source, src)
				ss, err := c.NewSymbolSource(e.Length, &sl, &e.Pairs[c.Params().PairOf(sym.Source, src)])
				if err != nil {
					t.Fatal(err)
				}
				want, _ := ss.Symbol(pos, false)
				if !bytes.Equal(want.Data, sym.Data) {
					t.Fatalf("forged symbol (%d, %d) verified", sym.Row, sym.Col)
				}
			}
			// Rebuilding from it alone must fail cleanly, never panic.
			k, idx := sym.Target()
			if int(idx) < 7 {
				_, _ = c.Rebuild(e.ID, e.Length, k, int(idx), &e.Pairs[c.Params().PairOf(k, int(idx)%7)], []blob.RecoverySymbol{sym})
			}
		}
	})
}
