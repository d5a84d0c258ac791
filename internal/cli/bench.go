package cli

import (
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/weftnet/weft/internal/bench"
)

func newBenchCmd(s Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure Weft on this machine",
	}
	var (
		shards  []int
		sizes   []string
		minTime time.Duration
	)
	enc := &cobra.Command{
		Use:   "encode [--shards N,...] [--size S,...]",
		Short: "Encode, decode and recovery throughput of the RedStuff codec",
		Long: `Measure the codec for n = 10, 100, 1000 shards and blobs of 1 KiB, 1 MiB,
64 MiB and 256 MiB (or the --shards and --size given): encode, decode from
systematic and from parity slivers, rebuilding one sliver pair from recovery
symbols, encoded size and peak memory. Encode is compared with a floor
measured in the same run: the same Reed–Solomon extensions on ready buffers,
one SHA-256 hash per grid symbol, and the 2n·(n−1) inner nodes of the sliver
trees plus the pair tree, with the same hash and workers. The blob-id column
runs this binary's blob-id on the blob written to a temporary file: the
whole process, as a user sees it.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg := bench.EncodeConfig{MinTime: minTime}
			if exe, err := os.Executable(); err == nil {
				cfg.Binary = exe
			}
			cfg.Shards = shards
			for _, size := range sizes {
				v, err := bench.ParseSize(size)
				if err != nil {
					return usageError{err}
				}
				cfg.Sizes = append(cfg.Sizes, v)
			}
			_, err := bench.Encode(s.Out, cfg)
			return err
		},
	}
	enc.Flags().IntSliceVar(&shards, "shards", nil, "only these shard counts, e.g. 256,1000 (default 10, 100 and 1000)")
	enc.Flags().StringSliceVar(&sizes, "size", nil, "only these blob sizes, e.g. 1KiB,64MiB (default 1KiB, 1MiB, 64MiB, 256MiB)")
	enc.Flags().DurationVar(&minTime, "min-time", time.Second, "minimum time spent on each measurement")
	var cc bench.ControlConfig
	ctl := &cobra.Command{
		Use:   "control [--blobs N] [--concurrency C]",
		Short: "Certified blobs per second and commit latency of the embedded control plane",
		Long: `Start the embedded control plane (one CometBFT validator in this process) with a
committee of storage nodes, register and certify blobs from concurrent
clients over its RPC, and report certified blobs per second and commit
latency (broadcast to committed) per transaction.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := bench.Control(s.Out, cc)
			return err
		},
	}
	ctl.Flags().IntVar(&cc.Blobs, "blobs", 2000, "blobs to register and certify")
	ctl.Flags().IntVar(&cc.Concurrency, "concurrency", 64, "concurrent clients")
	ctl.Flags().IntVar(&cc.Committee, "committee", 10, "storage nodes in the committee")
	ctl.Flags().IntVar(&cc.Shards, "shards", 100, "shards")
	var (
		ic      bench.IngestConfig
		isize   string
		ishards []int
	)
	ing := &cobra.Command{
		Use:   "ingest [--shards 10,100] [--size 64MiB]",
		Short: "Sliver ingest of one storage node over loopback HTTP",
		Long: `Start an embedded control plane and one weft node process that holds every
shard, upload all slivers of a blob to it (each verified against the blob ID
and synced before the node answers) and report MB/s of sliver bytes and the
node's CPU seconds per GB, against the same uploads to a server that only
discards them.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if isize != "" {
				v, err := bench.ParseSize(isize)
				if err != nil {
					return usageError{err}
				}
				ic.Size = v
			}
			ic.Shards = ishards
			_, err := bench.Ingest(s.Out, ic)
			return err
		},
	}
	ing.Flags().IntSliceVar(&ishards, "shards", []int{10, 100}, "shard counts")
	ing.Flags().StringVar(&isize, "size", "64MiB", "blob size")
	ing.Flags().IntVar(&ic.Concurrency, "concurrency", 4, "parallel uploads")
	var dc bench.DevnetConfig
	dev := &cobra.Command{
		Use:   "devnet",
		Short: "Store and read 1 MiB and 64 MiB blobs on the default devnet",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return bench.Devnet(s.Out, dc)
		},
	}
	dev.Flags().IntVar(&dc.Runs, "runs", 5, "stores and reads per size")
	var (
		rc     bench.RepairConfig
		rsizes []string
	)
	rep := &cobra.Command{
		Use:   "repair [--shards 10,100,1000] [--sizes 1MiB,16MiB,64MiB,256MiB]",
		Short: "Bytes and time of self-healing against classic Reed–Solomon repair",
		Long: `Measure how a node that lost everything rebuilds its data: in a committee of n
nodes holding one shard each, node 0 rebuilds its sliver pair of a batch of
blobs (about 64 MiB, at most 64 blobs) in one recovery job, from symbols its
peers serve in this process through the wire formats. Every rebuilt sliver is
checked against the encoder's. Reported: bytes received per pair and their
ratio to the pair's size, bytes sent, and time per pair, against classic
one-dimensional Reed–Solomon with the same threshold k = n − 2f measured in
the same run, where rebuilding one shard downloads k shards.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			rc.Sizes = nil
			for _, v := range rsizes {
				size, err := bench.ParseSize(v)
				if err != nil {
					return usageError{err}
				}
				rc.Sizes = append(rc.Sizes, size)
			}
			if err := rc.Validate(); err != nil {
				return usageError{err}
			}
			_, err := bench.Repair(s.Out, rc)
			return err
		},
	}
	rep.Flags().IntSliceVar(&rc.Shards, "shards", []int{10, 100, 1000}, "shard counts")
	rep.Flags().StringSliceVar(&rsizes, "sizes", []string{"1MiB", "16MiB", "64MiB", "256MiB"}, "blob sizes")
	rep.Flags().DurationVar(&rc.MinTime, "min-time", time.Second, "minimum time spent on each measurement")
	var only []string
	abuse := &cobra.Command{
		Use:   "abuse [--only NAME,...]",
		Short: "Replay known attacks against the default devnet: what the attacker gets",
		Long: `Start the default devnet and replay the attacks first seen against it: node
keys that register themselves into the committee, squatting a blob ID,
forged lengths, extending someone else's blob, a transaction flood, parallel
submits from one key, bodies that declare huge lengths or trickle in, idle
connections, symbol requests with duplicate items, re-uploads. For each, the
table shows what the attacker got on the build before the security work
(observed from outside) and what it gets now, measured in this run:
shards, bytes held, node RSS and CPU, honest latency. Attacks: ` + strings.Join(bench.Attacks(), ", ") + ".",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, o := range only {
				if !slices.Contains(bench.Attacks(), o) {
					return usagef("unknown attack %q (attacks: %s)", o, strings.Join(bench.Attacks(), ", "))
				}
			}
			return bench.Abuse(s.Out, bench.AbuseConfig{Only: only})
		},
	}
	abuse.Flags().StringSliceVar(&only, "only", nil, "run only these attacks")
	var chc bench.ChurnConfig
	churn := &cobra.Command{
		Use:   "churn [--epochs N]",
		Short: "Epoch changes with nodes joining and leaving on the default devnet, under load",
		Long: `Start the default devnet, store some blobs, then run N epoch changes: at each,
one or two nodes join (weft devnet add-node) and the oldest member leaves
(remove-node), and the admin advances the epoch, while a writer stores blobs of
4 KiB–1 MiB and reads them back all the time. Per change: shards moved, the
bytes the gaining nodes received (shard sync and recovery) over the bytes of
the moved slivers of the live blobs, the time until the change is done, and
the writer's writes and reads with how many failed (there should be none).`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := bench.Churn(s.Out, chc)
			return err
		},
	}
	churn.Flags().IntVar(&chc.Epochs, "epochs", 5, "epoch changes")
	churn.Flags().IntVar(&chc.Preload, "preload", 40, "blobs stored before the first change")
	churn.Flags().IntVar(&chc.KillEvery, "kill-every", 3, "kill the leaver before every k-th change (its shards are rebuilt by recovery); 0 never")
	var minSize, maxSize string
	churn.Flags().StringVar(&minSize, "min-size", "4KiB", "smallest blob the writer stores")
	churn.Flags().StringVar(&maxSize, "max-size", "1MiB", "largest blob the writer stores")
	churn.PreRunE = func(*cobra.Command, []string) error {
		lo, err := bench.ParseSize(minSize)
		if err != nil {
			return usageError{err}
		}
		hi, err := bench.ParseSize(maxSize)
		if err != nil {
			return usageError{err}
		}
		if chc.KillEvery == 0 {
			chc.KillEvery = -1
		}
		chc.MinSize, chc.MaxSize = int(lo), int(hi)
		return nil
	}
	var chal bench.ChallengesConfig
	challenges := &cobra.Command{
		Use:   "challenges [--windows N] [--interval D]",
		Short: "Storage challenge windows on a devnet: answer size, check time, results per node",
		Long: `Start the default devnet with a short challenge interval, store some blobs, and
follow N challenge windows, with one node stopped (SIGSTOP) for one of them. Per
window: the blobs sampled, each node's answer bytes, the time the control
plane's checker takes for one answer (each accepted ChallengeAnswer transaction,
read back from the chain and replayed in this process), and each node's result
(P passed, F failed, V void: no answer landed, the control plane stalled).`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := bench.Challenges(s.Out, chal)
			return err
		},
	}
	challenges.Flags().IntVar(&chal.Windows, "windows", 5, "windows to follow")
	challenges.Flags().IntVar(&chal.Blobs, "blobs", 20, "blobs of 64 KiB–1 MiB stored first")
	challenges.Flags().DurationVar(&chal.Interval, "interval", 5*time.Second, "challenge interval of the devnet")
	challenges.Flags().IntVar(&chal.Stopped, "stopped", 3, "the window (1-based) during which one node is stopped; -1 none")
	var (
		fc     bench.FilesConfig
		fsizes []string
		fseg   string
		fsmall string
	)
	filesCmd := &cobra.Command{
		Use:   "files [--sizes 1GiB,4GiB] [--segment-size 64MiB]",
		Short: "Store and read back large files (bounded memory) and a batch of small files on the default devnet",
		Long: `Start the default devnet; for each size, store a file generated from a seed
(never held in memory) with the SDK and read it back byte-exact, then the same
through the devnet's gateway, printing MB/s and the peak resident sets of this
process (the client), the busiest node and the gateway. Then store N small
files as one batch and as N single blobs: encoded bytes, control-plane
transactions and wall time.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, v := range fsizes {
				n, err := bench.ParseSize(v)
				if err != nil {
					return usageError{err}
				}
				fc.Sizes = append(fc.Sizes, n)
			}
			var err error
			if fc.SegmentSize, err = bench.ParseSize(fseg); err != nil {
				return usageError{err}
			}
			if fc.SmallSize, err = bench.ParseSize(fsmall); err != nil {
				return usageError{err}
			}
			return bench.Files(s.Out, fc)
		},
	}
	filesCmd.Flags().StringSliceVar(&fsizes, "sizes", []string{"1GiB"}, "file sizes")
	filesCmd.Flags().StringVar(&fseg, "segment-size", "64MiB", "segment size")
	filesCmd.Flags().IntVar(&fc.SmallFiles, "small-files", 1000, "small files in the batch comparison")
	filesCmd.Flags().StringVar(&fsmall, "small-size", "1KiB", "size of each small file")
	filesCmd.Flags().BoolVar(&fc.NoGateway, "no-gateway", false, "skip the round trip through the gateway")
	cmd.AddCommand(enc, ctl, ing, dev, rep, abuse, churn, challenges, filesCmd)
	return cmd
}
