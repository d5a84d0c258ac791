package control

import (
	"bytes"
	"math/big"
	"slices"
)

// ShardCap is the most shards one of m members may hold out of n: ⌊n/10⌋
// once there are 20 or more members, f with fewer — raised to ⌈n/m⌉
// where the members could not hold all n shards otherwise.
func ShardCap(n, m int) int {
	if m <= 0 {
		return 0
	}
	c := (n - 1) / 3
	if m >= 20 {
		c = n / 10
	}
	return max(c, (n+m-1)/m)
}

// Apportion divides n shards among members by weight: largest remainder
// (Hamilton), no member above ShardCap, and shards that a cap frees go to
// the others by the same rule. Ties between equal remainders go to the
// member that held more shards (so fewer move), then to the earlier one.
// Weights must be positive; held may be nil.
func Apportion(n int, weights []uint64, held []int) []int {
	m := len(weights)
	quota := make([]int, m)
	if m == 0 {
		return quota
	}
	limit := ShardCap(n, m)
	fixed := make([]bool, m)
	remaining := n
	for {
		var active []int
		total := new(big.Int)
		for i := range weights {
			if !fixed[i] {
				active = append(active, i)
				total.Add(total, new(big.Int).SetUint64(weights[i]))
			}
		}
		if len(active) == 0 || remaining == 0 {
			return quota
		}
		rems := make(map[int]*big.Int, len(active))
		left := remaining
		for _, i := range active {
			num := new(big.Int).Mul(big.NewInt(int64(remaining)), new(big.Int).SetUint64(weights[i]))
			q, r := new(big.Int).QuoRem(num, total, new(big.Int))
			quota[i] = int(q.Int64())
			rems[i] = r
			left -= quota[i]
		}
		order := slices.Clone(active)
		slices.SortStableFunc(order, func(a, b int) int {
			if c := rems[b].Cmp(rems[a]); c != 0 {
				return c
			}
			return heldOf(held, b) - heldOf(held, a)
		})
		for _, i := range order[:left] {
			quota[i]++
		}
		over := false
		for _, i := range active {
			if quota[i] > limit {
				quota[i], fixed[i] = limit, true
				remaining -= limit
				over = true
			}
		}
		if !over {
			return quota
		}
	}
}

func heldOf(held []int, i int) int {
	if held == nil {
		return 0
	}
	return held[i]
}

// AssignShards builds a committee of n shards from weighted nodes
// (weight > 0), apportioned by weight (Apportion), moving as few shards
// as possible from the previous committee (nil at genesis): members keep
// what they held up to their quota (the lowest-numbered), and only the
// surplus of shrinking members and the shards of departed ones move,
// dealt round-robin to members below quota. Nodes whose quota is 0 are left
// out. The result is sorted by node key and deterministic.
func AssignShards(n int, prev *Committee, nodes []NodeRecord) []Member {
	nodes = slices.Clone(nodes)
	slices.SortFunc(nodes, func(a, b NodeRecord) int { return bytes.Compare(a.Key[:], b.Key[:]) })
	nodes = slices.DeleteFunc(nodes, func(nd NodeRecord) bool { return nd.Weight == 0 })
	if len(nodes) == 0 {
		return nil
	}
	prevHeld := map[PublicKey][]int{}
	if prev != nil {
		for _, mem := range prev.Members {
			prevHeld[mem.Key] = slices.Sorted(slices.Values(mem.Shards))
		}
	}
	weights := make([]uint64, len(nodes))
	held := make([]int, len(nodes))
	for i, nd := range nodes {
		weights[i], held[i] = nd.Weight, len(prevHeld[nd.Key])
	}
	quota := Apportion(n, weights, held)
	members := make([]Member, len(nodes))
	taken := make([]bool, n)
	for i, nd := range nodes {
		members[i].NodeRecord = nd
		for _, s := range prevHeld[nd.Key] {
			if len(members[i].Shards) == quota[i] {
				break
			}
			if s >= 0 && s < n && !taken[s] {
				taken[s] = true
				members[i].Shards = append(members[i].Shards, s)
			}
		}
	}
	// The free shards go round-robin to the members below quota, so that
	// neighbouring shards have different owners: a pair's Merkle sibling
	// lives on the next shard, and a node that lost a pair's commitment
	// checks the rebuilt pair with its sibling's — from another node, if
	// the sibling's shard is not the same node's.
	var needy []int
	for i := range members {
		if len(members[i].Shards) < quota[i] {
			needy = append(needy, i)
		}
	}
	turn := 0
	for s := 0; s < n && len(needy) > 0; s++ {
		if taken[s] {
			continue
		}
		i := needy[turn%len(needy)]
		taken[s] = true
		members[i].Shards = append(members[i].Shards, s)
		if len(members[i].Shards) == quota[i] {
			needy = slices.Delete(needy, turn%len(needy), turn%len(needy)+1)
		} else {
			turn++
		}
	}
	for i := range members {
		slices.Sort(members[i].Shards)
	}
	return slices.DeleteFunc(members, func(mem Member) bool { return len(mem.Shards) == 0 })
}
