// Transactions: decoding, replay protection and dispatch to the rule of
// each kind (blobs.go, membership.go, committee.go, challenge.go).

package control

// Deliver applies one transaction of the current block. A transaction
// that does not decode or verify, or that is a replay, changes nothing.
// One that is rejected by the rules returns an error wrapping one of the
// rejection reasons and changes only the state's memory of it, so it
// can never be replayed. A store failure is reported by Commit.
//
// The mempool runs Deliver too, on a scratch copy of the committed state
// with the pending transactions applied (see Overlay), so a transaction
// that would fail is never admitted.
func (m *Machine) Deliver(raw []byte) ([]Event, error) {
	if m.params == nil {
		return nil, ErrNotInitialized
	}
	tx, err := DecodeTx(m.params.NetworkID, raw)
	if err != nil {
		return nil, err
	}
	err = m.deliver(tx)
	return m.takeEvents(), err
}

func (m *Machine) deliver(tx *Tx) error {
	if err := m.remember(tx); err != nil {
		return err
	}
	return m.apply(tx)
}

func (m *Machine) apply(tx *Tx) error {
	p := &tx.Payload
	switch {
	case p.RegisterNode != nil:
		return m.registerNode(tx.Sender, p.RegisterNode)
	case p.SetWeight != nil:
		return m.setWeight(tx.Sender, p.SetWeight)
	case p.RegisterBlob != nil:
		return m.registerBlob(tx.Sender, p.RegisterBlob)
	case p.CertifyBlob != nil:
		return m.certify(p.CertifyBlob)
	case p.InvalidateBlob != nil:
		return m.invalidate(p.InvalidateBlob)
	case p.DeleteBlob != nil:
		return m.deleteRegistration(tx.Sender, p.DeleteBlob.ID)
	case p.ExtendBlob != nil:
		return m.extend(tx.Sender, p.ExtendBlob)
	case p.AdvanceEpoch != nil:
		return m.adminAdvance(tx.Sender, p.AdvanceEpoch)
	case p.LeaveCommittee != nil:
		return m.leaveCommittee(tx.Sender)
	case p.EpochSyncDone != nil:
		return m.epochSyncDone(tx.Sender, p.EpochSyncDone)
	case p.ChallengeAnswer != nil:
		return m.challengeAnswer(tx.Sender, p.ChallengeAnswer)
	}
	return ErrBadRequest
}

// isGovernance reports whether key is the network's governance key (the
// admin of a devnet).
func (m *Machine) isGovernance(key PublicKey) bool {
	return m.params.Admin != (PublicKey{}) && key == m.params.Admin
}
