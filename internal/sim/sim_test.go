package sim

import (
	"bytes"
	"strings"
	"testing"
)

func run(t *testing.T, cfg Config) (Summary, string) {
	t.Helper()
	var out bytes.Buffer
	sum, err := Run(cfg, &out)
	if err != nil {
		t.Fatalf("seed %d: %v\n%s", cfg.Seed, err, out.String())
	}
	return sum, out.String()
}

// TestSameSeedSameRun: one seed prints the same run twice, byte for byte.
func TestSameSeedSameRun(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Seed = 7
	_, a := run(t, cfg)
	_, b := run(t, cfg)
	if a != b {
		t.Fatalf("seed 7 ran differently twice:\n%s\n---\n%s", a, b)
	}
	if !strings.HasPrefix(a, "seed 7\n") {
		t.Fatalf("the seed is not printed first:\n%s", a)
	}
	t.Logf("\n%s", a)
}

// TestSeedsRunClean: a few seeds, with more faults and shard counts, keep
// every invariant and certify every blob.
func TestSeedsRunClean(t *testing.T) {
	for seed, shards := range map[uint64]int{1: 7, 2: 10, 3: 13, 4: 31} {
		cfg := DefaultConfig()
		cfg.Seed, cfg.Shards, cfg.Nodes, cfg.CrashRate, cfg.WipeRate = seed, shards, min(shards, 9), 1, 0.3
		sum, out := run(t, cfg)
		if sum.Violations != 0 || strings.Contains(out, "VIOLATION") {
			t.Errorf("seed %d: %d violations:\n%s", seed, sum.Violations, out)
		}
		if sum.Certified != cfg.Blobs || sum.Crashes+sum.Wipes == 0 {
			t.Errorf("seed %d: %d of %d blobs certified, %d faults injected:\n%s", seed, sum.Certified, cfg.Blobs, sum.Crashes+sum.Wipes, out)
		}
		if sum.Wipes > 0 && sum.RecoveredSlivers == 0 {
			t.Errorf("seed %d: %d wipes and nothing recovered:\n%s", seed, sum.Wipes, out)
		}
	}
}

// TestBrokenNodeIsCaught: nodes that confirm before they sync lose
// acknowledged slivers when they crash; the run says so and prints the
// command that replays it.
func TestBrokenNodeIsCaught(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Seed, cfg.Blobs, cfg.CrashRate, cfg.WipeRate = 11, 40, 4, 0
	cfg.Bug = BugAckBeforeSync
	caught(t, cfg, "it acknowledged (only a disk wipe may take those)")
}

// TestBrokenNodeCodeIsCaught: a bug in the storage node's own code (a
// node that corrupts its challenge answers, injected through
// node.Embedding) fails an honest node's challenges; the simulator, which
// runs that code, says so.
func TestBrokenNodeCodeIsCaught(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Seed, cfg.Epochs = 5, 5
	cfg.Bug = BugCorruptAnswer
	caught(t, cfg, "failed challenge window")
}

// TestBitRotIsScrubbed: bytes that flip on nodes' disks are found by
// the storage node's own scrub, dropped and rebuilt by its recovery, with
// no invariant broken; a scrub that takes every sliver for good (a bug in
// the node's code) leaves the rot, and the simulator says so.
func TestBitRotIsScrubbed(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Seed, cfg.RotRate, cfg.Epochs = 3, 1, 6
	cfg.Bug = BugBlindScrub
	if !strings.Contains(cfg.Command(), " --rot-rate 1") {
		t.Fatalf("the replay command %q does not carry the rot", cfg.Command())
	}
	sum := caught(t, cfg, "that rotted, after 2 scrub passes")
	if sum.Rots == 0 || sum.ScrubFound == 0 {
		t.Fatalf("honest nodes: %d slivers rotted, %d found by scrubs", sum.Rots, sum.ScrubFound)
	}
}

// TestClassicRepairIsCaught: storage nodes whose recovery fetches its
// sources' whole slivers, as a classic erasure code's repair does, still
// rebuild every sliver and break no other invariant; the simulator says
// they moved more than was lost.
func TestClassicRepairIsCaught(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Seed, cfg.Shards, cfg.Nodes, cfg.WipeRate, cfg.Epochs = 4, 40, 20, 0.5, 4
	cfg.Bug = BugClassicRepair
	sum := caught(t, cfg, "more than 2.0× what was lost")
	if sum.RepairSymbolBytes > int64(maxMoved*float64(sum.LostCleanBytes+sum.CheckBytes)) {
		t.Fatalf("honest nodes: repair fetched %d bytes of symbols for %d rebuilt", sum.RepairSymbolBytes, sum.LostCleanBytes+sum.CheckBytes)
	}
}

// caught runs cfg, whose injected bug must break an invariant: the output
// has a violation, each of wants and the command that replays the run.
// The same run without the bug must be clean; its summary is returned.
func caught(t *testing.T, cfg Config, wants ...string) Summary {
	t.Helper()
	sum, out := run(t, cfg)
	if sum.Violations == 0 {
		t.Fatalf("bug %s went unnoticed:\n%s", cfg.Bug, out)
	}
	for _, want := range append(wants, "replay with: "+cfg.Command()+"\n") {
		if !strings.Contains(out, want) {
			t.Fatalf("bug %s: no %q in the output:\n%s", cfg.Bug, want, out)
		}
	}
	t.Logf("\n%s", out)
	cfg.Bug = ""
	sum, out = run(t, cfg)
	if sum.Violations != 0 {
		t.Fatalf("honest nodes: %d violations:\n%s", sum.Violations, out)
	}
	return sum
}

// TestChurn: with churn on, nodes join and leave through the machine's
// own transactions, shards move, every epoch change is done within its
// bound, and every blob is certified and stays readable; without faults
// the nodes that gain shards fetch from the previous owners what they
// lack and little more (the sync wire's commitments and requests).
func TestChurn(t *testing.T) {
	for _, faults := range []bool{false, true} {
		for seed := uint64(1); seed <= 3; seed++ {
			cfg := DefaultConfig()
			cfg.Seed, cfg.Churn, cfg.Epochs, cfg.CrashRate, cfg.WipeRate, cfg.MaxBlobSize = seed, 0.7, 6, 0, 0, 64<<10
			if faults {
				cfg.Shards, cfg.Nodes, cfg.CrashRate, cfg.WipeRate, cfg.MaxBlobSize = 13, 9, 1, 0.3, 4<<10
			}
			sum, out := run(t, cfg)
			if sum.Violations != 0 || strings.Contains(out, "VIOLATION") || sum.Certified != cfg.Blobs {
				t.Errorf("seed %d (faults %v): %d violations, %d of %d blobs certified:\n%s", seed, faults, sum.Violations, sum.Certified, cfg.Blobs, out)
			}
			if sum.Joined == 0 || sum.Left == 0 || sum.ShardsMoved == 0 || sum.EpochChanges == 0 || sum.NeededBytes == 0 {
				t.Errorf("seed %d (faults %v): no churn: %+v\n%s", seed, faults, sum, out)
			}
			if sum.MaxDoneIn <= 0 || sum.MaxDoneIn > cfg.EpochDuration/2 {
				t.Errorf("seed %d (faults %v): longest epoch change %s, bound %s", seed, faults, sum.MaxDoneIn, cfg.EpochDuration/2)
			}
			r := float64(sum.SyncBytes) / float64(sum.NeededBytes)
			if !faults && (r < 1 || r > 1.1) || faults && (r < 0.5 || r > 4) {
				t.Errorf("seed %d (faults %v): synced %d bytes for %d needed:\n%s", seed, faults, sum.SyncBytes, sum.NeededBytes, out)
			}
			if !strings.Contains(out, "joined left moved sync/need sl/need  done-in") {
				t.Errorf("seed %d: no churn columns:\n%s", seed, out)
			}
		}
	}
}

// TestChurnSameSeedSameRun: churn keeps a run a function of its seed.
func TestChurnSameSeedSameRun(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Seed, cfg.Churn = 42, 0.5
	_, a := run(t, cfg)
	_, b := run(t, cfg)
	if a != b {
		t.Fatalf("seed 42 with churn ran differently twice:\n%s\n---\n%s", a, b)
	}
	t.Logf("\n%s", a)
}

// TestUnsyncedAttestationIsCaught: nodes that attest EpochSyncDone
// without fetching the shards they gained claim pairs they do not hold;
// the run says so and prints a replay command that carries the churn.
func TestUnsyncedAttestationIsCaught(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Seed, cfg.Churn, cfg.CrashRate, cfg.WipeRate = 3, 1, 0, 0
	cfg.Bug = BugAttestUnsynced
	if !strings.Contains(cfg.Command(), " --churn 1") {
		t.Fatalf("the replay command %q does not carry the churn", cfg.Command())
	}
	caught(t, cfg)
}

// TestEpochChangeNeverDoneIsCaught: nodes that never attest their sync
// leave every epoch change syncing; the bound says so, once per change
// (the next epoch superseding it is the same violation).
func TestEpochChangeNeverDoneIsCaught(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Seed, cfg.Churn, cfg.CrashRate, cfg.WipeRate = 5, 1, 0, 0
	cfg.Bug = BugNeverAttest
	sum, out := run(t, cfg)
	if sum.EpochChanges == 0 || sum.MaxDoneIn != 0 || sum.Violations != sum.EpochChanges {
		t.Fatalf("%d epoch changes to sync, %d violations, longest done in %s:\n%s", sum.EpochChanges, sum.Violations, sum.MaxDoneIn, out)
	}
	for _, want := range []string{" is not done 15s after it began", "not done\n", "replay with: " + cfg.Command() + "\n"} {
		if !strings.Contains(out, want) {
			t.Fatalf("no %q in the output:\n%s", want, out)
		}
	}
	t.Logf("\n%s", out)
}

// TestByzantineFaults: with a liar and a dropper (f = 4 shards' worth at
// most), an inconsistent writer, lossy and slow links and partitions on
// top of crashes and wipes, no invariant breaks; the liar's false symbols
// are caught by recovery, the dropper fails challenges and loses its
// weight, and every inconsistent blob certified is proved and marked
// invalid through the machine.
func TestByzantineFaults(t *testing.T) {
	invalidated := 0
	for seed := uint64(1); seed <= 4; seed++ {
		cfg := DefaultConfig()
		cfg.Seed, cfg.Shards, cfg.Nodes, cfg.Epochs = seed, 13, 9, 8
		cfg.Loss, cfg.Slow, cfg.Partitions, cfg.Byzantine, cfg.Inconsistent = 0.01, 0.01, 1, 2, 1
		sum, out := run(t, cfg)
		invalidated += sum.Invalidated
		if sum.Violations != 0 || strings.Contains(out, "VIOLATION") {
			t.Errorf("seed %d: %d violations:\n%s", seed, sum.Violations, out)
		}
		if sum.LiesCaught == 0 || sum.DroppersCaught == 0 || sum.Evicted != 1 || sum.DroppersEvicted != 1 || sum.Invalidated != sum.Inconsistent {
			t.Errorf("seed %d: %d lies caught, %d dropper failures, %d evicted (%d droppers), %d of %d inconsistent blobs invalidated:\n%s",
				seed, sum.LiesCaught, sum.DroppersCaught, sum.Evicted, sum.DroppersEvicted, sum.Invalidated, sum.Inconsistent, out)
		}
		if sum.ChallengesPassed == 0 || sum.Dropped == 0 || sum.Certified != cfg.Blobs {
			t.Errorf("seed %d: %d challenges passed, %d messages lost, %d of %d certified:\n%s",
				seed, sum.ChallengesPassed, sum.Dropped, sum.Certified, cfg.Blobs, out)
		}
	}
	if invalidated == 0 {
		t.Errorf("no inconsistent blob was certified and invalidated in 4 seeds")
	}
}

// TestIgnoredProofIsCaught: nodes that drop the inconsistency proofs
// their recovery finds leave an invalid blob certified; the run says so
// and its replay command carries the bug.
func TestIgnoredProofIsCaught(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Seed, cfg.Shards, cfg.Nodes, cfg.Inconsistent = 2, 13, 9, 2
	cfg.Bug = BugIgnoreProofs
	if !strings.Contains(cfg.Command(), " --bug ignore-proofs") {
		t.Fatalf("the replay command %q does not carry the bug", cfg.Command())
	}
	if sum := caught(t, cfg, "is not marked invalid"); sum.Inconsistent == 0 || sum.Invalidated != sum.Inconsistent {
		t.Fatalf("honest nodes: %d of %d inconsistent blobs invalidated", sum.Invalidated, sum.Inconsistent)
	}
}

// TestRepairBytesMatchLost: with blobs whose symbols outweigh the wire's
// per-symbol framing, repair moves about the bytes it rebuilds.
func TestRepairBytesMatchLost(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Seed, cfg.CrashRate, cfg.WipeRate, cfg.MaxBlobSize, cfg.Blobs = 9, 0, 0.5, 256<<10, 10
	sum, out := run(t, cfg)
	r := float64(sum.RecoveryBytes) / float64(sum.LostBytes)
	if sum.Violations != 0 || sum.LostBytes == 0 || r < 1 || r > 1.2 {
		t.Fatalf("repair moved %d bytes for %d lost (%.2f), %d violations:\n%s", sum.RecoveryBytes, sum.LostBytes, r, sum.Violations, out)
	}
	t.Logf("repair moved %.3f× the bytes it rebuilt", r)
}

// TestByzantineChurn: f shards' worth of liars and droppers under churn,
// lossy links and partitions. Seed 2 was the simulator's find: a node
// that gained a shard from a lying previous owner lacked the pair whole
// and could not rebuild it, the primary sliver having only n − f − 1
// honest peer sources of the n − f it needs, until recovery jobs learned the
// two-step repair (the pair's own secondary sliver, rebuilt first, is
// the last source). Honest nodes were evicted for failing challenges.
func TestByzantineChurn(t *testing.T) {
	for _, seed := range []uint64{1, 2, 5} {
		cfg := DefaultConfig()
		cfg.Seed, cfg.Shards, cfg.Nodes, cfg.Epochs, cfg.Churn = seed, 13, 9, 8, 0.5
		cfg.Loss, cfg.Slow, cfg.Partitions, cfg.Byzantine, cfg.Inconsistent = 0.01, 0.01, 1, 2, 1
		sum, out := run(t, cfg)
		if sum.Violations != 0 || sum.Evicted > 1 || sum.Invalidated != sum.Inconsistent || sum.ShardsMoved == 0 {
			t.Errorf("seed %d: %d violations, %d evicted (one dropper at most), %d of %d inconsistent blobs invalidated, %d shards moved:\n%s",
				seed, sum.Violations, sum.Evicted, sum.Invalidated, sum.Inconsistent, sum.ShardsMoved, out)
		}
	}
}

// BenchmarkHeadlineEpochs runs ten epochs of the headline workload
// (1000 shards over 100 nodes, every fault on): go test -bench
// HeadlineEpochs -benchtime 1x -cpuprofile for where a run's time goes.
func BenchmarkHeadlineEpochs(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Seed, cfg.Nodes, cfg.Shards, cfg.Epochs = 7, 100, 1000, 10
	cfg.Churn, cfg.CrashRate, cfg.WipeRate, cfg.Loss, cfg.Slow, cfg.Partitions, cfg.Byzantine, cfg.Inconsistent = 0.33, 0.5, 0.02, 0.01, 0.01, 1, 4, 1
	for b.Loop() {
		var out bytes.Buffer
		sum, err := Run(cfg, &out)
		if err != nil || sum.Violations != 0 {
			b.Fatalf("%v\n%s", err, out.String())
		}
	}
}
