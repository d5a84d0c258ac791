package redstuff

import (
	"fmt"

	"github.com/weftnet/weft/blob"
)

// VerifyProof checks an inconsistency proof of either form against the
// blob ID (see VerifyInconsistencyProof and
// VerifyPairsInconsistencyProof).
func (c *Codec) VerifyProof(id blob.ID, length uint64, p blob.Proof) error {
	switch p := p.(type) {
	case *blob.InconsistencyProof:
		return c.VerifyInconsistencyProof(id, length, p)
	case *blob.PairsInconsistencyProof:
		return c.VerifyPairsInconsistencyProof(id, length, p)
	}
	return fmt.Errorf("%w: unknown proof type %T", ErrVerify, p)
}
