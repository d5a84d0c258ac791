package control

import (
	"bytes"
	"slices"
)

// AssignShards spreads n shards over nodes as evenly as possible while
// moving as few shards as possible from the previous committee (nil at
// genesis): members keep what they held up to their quota, and only the
// surplus and orphaned shards move, lowest first, to members below quota.
// The result is sorted by node key and deterministic.
func AssignShards(n int, prev *Committee, nodes []Node) []Member {
	nodes = slices.Clone(nodes)
	slices.SortFunc(nodes, func(a, b Node) int { return bytes.Compare(a.Key[:], b.Key[:]) })
	if len(nodes) == 0 {
		return nil
	}
	held := map[PublicKey][]int{}
	if prev != nil {
		for _, mem := range prev.Members {
			held[mem.Key] = slices.Sorted(slices.Values(mem.Shards))
		}
	}
	// Quotas: n/m each; the n%m extra shards go to the members that held
	// the most, so that fewer shards move.
	m := len(nodes)
	order := make([]int, m)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return len(held[nodes[b].Key]) - len(held[nodes[a].Key])
	})
	quota := make([]int, m)
	for rank, i := range order {
		quota[i] = n / m
		if rank < n%m {
			quota[i]++
		}
	}
	members := make([]Member, m)
	taken := make([]bool, n)
	for i, nd := range nodes {
		members[i].Node = nd
		for _, s := range held[nd.Key] {
			if len(members[i].Shards) == quota[i] {
				break
			}
			if s >= 0 && s < n && !taken[s] {
				taken[s] = true
				members[i].Shards = append(members[i].Shards, s)
			}
		}
	}
	next := 0
	for i := range members {
		for len(members[i].Shards) < quota[i] {
			for taken[next] {
				next++
			}
			taken[next] = true
			members[i].Shards = append(members[i].Shards, next)
		}
		slices.Sort(members[i].Shards)
	}
	return members
}
