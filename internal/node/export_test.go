package node

// DropGivenUp exposes dropGivenUp to tests: the EpochDone event that
// calls it comes from a control plane transaction built elsewhere.
func (n *Node) DropGivenUp(epoch uint64) error { return n.dropGivenUp(epoch) }
