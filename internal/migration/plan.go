package migration

import (
	"slices"

	"github.com/weftnet/weft/internal/control"
)

// Gain is a shard a node takes at an epoch change.
type Gain struct {
	Shard int
	// From is the shard's owner in the previous epoch; HasFrom is false
	// when the shard had none (then there is nobody to pull from and the
	// shard is rebuilt by recovery).
	From    control.Member
	HasFrom bool
}

// Plan is what changes for one node between two committees.
type Plan struct {
	Epoch   uint64
	Gained  []Gain // by shard
	GivenUp []int  // sorted
	Kept    []int  // sorted
}

// PlanFor compares the committees of epochs e−1 (prev, nil when there
// is none: genesis) and e (next) for the node self, over n shards. At
// genesis nothing moves: the node holds its shards from the start.
func PlanFor(self control.PublicKey, prev, next *control.Committee, n int) Plan {
	p := Plan{Epoch: next.Epoch}
	mine := shardsOf(self, next)
	if prev == nil {
		p.Kept = mine
		return p
	}
	had := shardsOf(self, prev)
	owner := prev.ShardMap(n)
	for _, s := range mine {
		if _, ok := slices.BinarySearch(had, s); ok {
			p.Kept = append(p.Kept, s)
			continue
		}
		g := Gain{Shard: s}
		if s >= 0 && s < n && owner[s] >= 0 {
			g.From, g.HasFrom = prev.Members[owner[s]], true
		}
		p.Gained = append(p.Gained, g)
	}
	for _, s := range had {
		if _, ok := slices.BinarySearch(mine, s); !ok {
			p.GivenUp = append(p.GivenUp, s)
		}
	}
	return p
}

// shardsOf returns the shards key holds in c, sorted.
func shardsOf(key control.PublicKey, c *control.Committee) []int {
	for _, m := range c.Members {
		if m.Key == key {
			return slices.Sorted(slices.Values(m.Shards))
		}
	}
	return nil
}

// Owner returns the member that holds shard in c.
func Owner(c *control.Committee, shard int) (control.Member, bool) {
	for _, m := range c.Members {
		if slices.Contains(m.Shards, shard) {
			return m, true
		}
	}
	return control.Member{}, false
}
