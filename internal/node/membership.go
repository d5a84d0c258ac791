package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/control/rpc"
	"github.com/weftnet/weft/internal/keyfile"
)

// Membership: a node registers its key on the control plane as a
// candidate (weight 0) when it first starts, and updates its name and
// address when they change. Governance gives it weight; only then does it
// join a committee, at the next epoch boundary.

// register makes sure the control plane knows this node with its name
// and address.
func (n *Node) register(ctx context.Context) error {
	addr := n.cfg.Address
	if addr == "" {
		addr = "http://" + n.Addr()
	}
	rec, err := ensureRegistered(ctx, n.ctl, n.signer, n.cfg.Name, addr)
	if err != nil {
		return err
	}
	if rec.Weight == 0 {
		n.logger.Printf("node: %s is a candidate with weight 0: it joins a committee once governance sets its weight (weft admin set-weight %s W)", n.id, n.id)
	}
	return nil
}

func ensureRegistered(ctx context.Context, ctl Control, signer *rpc.Signer, name, addr string) (*control.NodeRecord, error) {
	rec, err := ctl.Node(ctx, signer.Key())
	if err != nil {
		return nil, fmt.Errorf("node: looking up its registration: %w", err)
	}
	// A node that left comes back by registering again (its own key alone
	// undoes a leave).
	if rec != nil && rec.Name == name && rec.Address == addr && !rec.Leaving {
		return rec, nil
	}
	if _, err := ctl.Submit(ctx, signer, control.Payload{RegisterNode: &control.RegisterNode{Name: name, Address: addr}}); err != nil {
		return nil, fmt.Errorf("node: registering %s at %s: %w", name, addr, err)
	}
	rec, err = ctl.Node(ctx, signer.Key())
	if err == nil && rec == nil {
		err = fmt.Errorf("node: registration of %s not found after commit", signer.Key())
	}
	return rec, err
}

// Register registers the node of cfg on the control plane without
// starting it (weft node register): its key (created if missing), name
// and address (cfg.Address, else "http://" + cfg.Listen).
func Register(ctx context.Context, cfg *Config) (*control.NodeRecord, error) {
	key, err := keyfile.LoadOrCreate(cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("node: identity key: %w", err)
	}
	addr := cfg.Address
	if addr == "" {
		addr = "http://" + cfg.Listen
	}
	if err := control.CheckNodeAddress(addr); err != nil {
		return nil, fmt.Errorf("node: address: %w", err)
	}
	ctl, err := rpc.Dial(ctx, cfg.ControlPlane)
	if err != nil {
		return nil, err
	}
	defer ctl.Close()
	return ensureRegistered(ctx, ctl, rpc.NewSigner(key), cfg.Name, addr)
}

// attestSyncDone tells the control plane that every shard this node
// gained at epoch is ready (EpochSyncDone). An attestation the control
// plane no longer needs — given already, the epoch done or superseded,
// or the node no member — counts as given.
func (n *Node) attestSyncDone(ctx context.Context, epoch uint64) error {
	n.mu.RLock()
	member := n.committee != nil && n.committee.Epoch == epoch && n.committee.Weight(n.id) > 0
	n.mu.RUnlock()
	if !member {
		return nil // a candidate, or an epoch already past: nothing to attest
	}
	_, err := n.ctl.Submit(ctx, n.signer, control.Payload{EpochSyncDone: &control.EpochSyncDone{Epoch: epoch}})
	switch {
	case err == nil:
		n.logger.Printf("node: attested that its shards of epoch %d are ready", epoch)
		return nil
	case errors.Is(err, control.ErrAttested), errors.Is(err, control.ErrEpochState),
		errors.Is(err, control.ErrEpoch), errors.Is(err, control.ErrNotAllowed):
		return nil
	}
	return err
}
