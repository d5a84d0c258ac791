package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/weftnet/weft/internal/bench"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/client"
	"github.com/weftnet/weft/files"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/devnet"
	"github.com/weftnet/weft/internal/gateway"
)

// connect opens the SDK client named by --config or WEFT_CONFIG.
// connect connects a one-shot command: its codec builds the Reed–Solomon
// library's tables only if a decode needs them.
func connect(ctx context.Context, cmd *cobra.Command) (*client.Client, error) {
	return dial(ctx, cmd, true)
}

func dial(ctx context.Context, cmd *cobra.Command, lazy bool) (*client.Client, error) {
	path, _ := cmd.Flags().GetString("config")
	if path == "" {
		path = os.Getenv("WEFT_CONFIG")
	}
	if path == "" {
		return nil, usagef("no client config: pass --config FILE or set WEFT_CONFIG (weft devnet writes one)")
	}
	cfg, err := client.LoadConfig(path)
	if err != nil {
		return nil, err
	}
	cfg.LazyTables = lazy
	return client.New(ctx, cfg)
}

// blobCommand parses a command's blob ID argument and connects.
func blobCommand(ctx context.Context, cmd *cobra.Command, arg string) (blob.ID, *client.Client, error) {
	id, err := blob.ParseID(arg)
	if err != nil {
		return id, nil, usageError{err}
	}
	c, err := connect(ctx, cmd)
	return id, c, err
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newStoreCmd(s Streams) *cobra.Command {
	var (
		epochs    uint64
		deletable bool
		asJSON    bool
		segment   int64 = client.DefaultSegmentSize
		ctype     string
		batch     bool
	)
	cmd := &cobra.Command{
		Use:   "store FILE...",
		Short: "Store files on the network and print their blob IDs",
		Long: `Store each FILE ("-": standard input) and print the blob ID that names it.
A file larger than --segment-size is cut into segments, each stored as a blob
(the next encoded while the previous uploads, so memory stays bounded), and a
manifest naming them is stored last: its blob ID names the file. Storing a
file again (after an interruption, say) uploads only what is not stored yet.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("store needs at least one FILE")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := connect(ctx, cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			if os.Getenv("GOMEMLIMIT") == "" {
				debug.SetMemoryLimit(client.MemoryLimit(segment))
			}
			if batch {
				return storeBatch(ctx, s, c, args, ctype, client.StoreOptions{Epochs: epochs, Deletable: deletable}, asJSON)
			}
			var results []*client.FileResult
			for _, path := range args {
				r, err := storeOne(ctx, s, c, path, client.FileOptions{
					StoreOptions: client.StoreOptions{Epochs: epochs, Deletable: deletable, Attributes: fileAttributes(path, ctype)}, SegmentSize: segment})
				if err != nil {
					return fmt.Errorf("storing %s: %w", path, err)
				}
				results = append(results, r)
				if !asJSON {
					fmt.Fprintln(s.Out, r.BlobID)
				}
			}
			if asJSON {
				type row struct {
					File string `json:"file"`
					*client.FileResult
				}
				var rows []row
				for i, r := range results {
					rows = append(rows, row{args[i], r})
				}
				if len(rows) == 1 {
					return printJSON(s.Out, rows[0])
				}
				return printJSON(s.Out, rows)
			}
			return nil
		},
	}
	cmd.Flags().Uint64Var(&epochs, "epochs", 5, "epochs to store the blob for")
	cmd.Flags().BoolVar(&deletable, "deletable", false, "allow the owner to delete the blob")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&batch, "batch", false, "pack the files into one blob with an index; print BATCH_ID/NAME per file")
	cmd.Flags().StringVar(&ctype, "content-type", "", "the files' content type (default: from each file name's extension)")
	cmd.Flags().Var(&sizeFlag{&segment}, "segment-size", "largest file stored as one blob, and the size of larger files' segments, e.g. 64MiB")
	return cmd
}

// storeBatch packs the files into one batch blob and prints each file's
// address, BATCH_ID/NAME, NAME being the path as given.
func storeBatch(ctx context.Context, s Streams, c *client.Client, paths []string, ctype string, o client.StoreOptions, asJSON bool) error {
	var fs []files.BatchFile
	total := 0
	for _, path := range paths {
		st, err := os.Stat(path)
		if err != nil {
			return err
		}
		if st.IsDir() {
			return fmt.Errorf("%s is a directory", path)
		}
		if total += int(st.Size()); st.Size() > files.MaxBatchBytes || total > files.MaxBatchBytes {
			return fmt.Errorf("%s: %w: the files of a batch may hold at most %d bytes in all (store larger files on their own)", path, files.ErrBatchTooLarge, files.MaxBatchBytes)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		fs = append(fs, files.BatchFile{Name: path, ContentType: fileAttributes(path, ctype).ContentType, Data: data})
	}
	r, err := c.StoreBatch(ctx, fs, o)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(s.Out, r)
	}
	for _, e := range r.Index.Entries {
		fmt.Fprintf(s.Out, "%s/%s\n", r.BlobID, e.Name)
	}
	return nil
}

// fileAttributes are the attributes registered with a file: its base
// name, and the content type given or else the one its extension implies.
func fileAttributes(path, ctype string) *control.Attributes {
	a := &control.Attributes{ContentType: ctype}
	if path != "-" {
		a.Name = filepath.Base(path)
		if a.ContentType == "" {
			a.ContentType = mime.TypeByExtension(filepath.Ext(path))
		}
	}
	return a
}

// storeOne stores the file at path ("-": standard input) with StoreFile.
func storeOne(ctx context.Context, s Streams, c *client.Client, path string, o client.FileOptions) (*client.FileResult, error) {
	var r io.Reader = s.In
	size := int64(-1)
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return nil, err
		}
		if st.IsDir() {
			return nil, fmt.Errorf("%s is a directory", path)
		}
		r, size = f, st.Size()
	}
	b := newBar(s.Err, "storing "+path, size)
	o.Progress = b.callback()
	res, err := c.StoreFile(ctx, r, size, o)
	b.done()
	return res, err
}

func newReadCmd(s Streams) *cobra.Command {
	var out string
	var asJSON, raw bool
	cmd := &cobra.Command{
		Use:   "read BLOB_ID|BATCH_ID/NAME [-o FILE]",
		Short: "Read a file or blob (to standard output by default)",
		Long: `Read what BLOB_ID names. A manifest's file is streamed segment by segment,
each verified against its blob ID before its bytes are written; --raw reads
the manifest blob itself. BATCH_ID/NAME reads one file of a batch (weft store
--batch), fetching only the rows that hold the batch's index and the file. With -o the file is written to a temporary file
next to FILE and renamed once complete and verified, so FILE never holds
wrong or partial content; to standard output, an error after the first
segment says how many bytes were written.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			idArg, name, inBatch := strings.Cut(args[0], "/")
			id, c, err := blobCommand(ctx, cmd, idArg)
			if err != nil {
				return err
			}
			defer c.Close()
			toStdout := out == "" || out == "-"
			if os.Getenv("GOMEMLIMIT") == "" {
				debug.SetMemoryLimit(client.MemoryLimit(0))
			}
			if inBatch {
				data, _, err := c.ReadBatchFile(ctx, id, name)
				if err != nil {
					return err
				}
				if toStdout {
					_, err = s.Out.Write(data)
					return err
				}
				_, err = writeAtomic(out, func(w io.Writer) (int64, error) { n, err := w.Write(data); return int64(n), err })
				return err
			}
			if toStdout && asJSON {
				return usagef("read --json needs -o FILE (the blob itself goes to standard output otherwise)")
			}
			var fi *client.FileInfo
			if raw {
				info, err := c.Status(ctx, id)
				if err != nil {
					return err
				}
				fi = &client.FileInfo{ID: id, Length: info.Length, Blob: info}
			} else if fi, err = c.StatFile(ctx, id); err != nil {
				return err
			}
			write := func(w io.Writer) (int64, error) {
				b := newBar(s.Err, "reading", int64(fi.Length))
				defer b.done()
				return c.ReadFileProgress(ctx, fi, w, b.callback())
			}
			if toStdout {
				n, err := write(s.Out)
				if err != nil && n > 0 {
					return fmt.Errorf("after %d bytes written: %w", n, err)
				}
				return err
			}
			n, err := writeAtomic(out, write)
			if err != nil {
				return err
			}
			if asJSON {
				m := map[string]any{"blobId": id, "size": n, "output": out, "manifest": fi.Manifest != nil}
				if fi.Manifest != nil {
					m["segments"] = len(fi.Manifest.Segments)
				}
				return printJSON(s.Out, m)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to FILE instead of standard output")
	cmd.Flags().BoolVar(&asJSON, "json", false, "with -o: print JSON about what was written")
	cmd.Flags().BoolVar(&raw, "raw", false, "read the blob itself, even if it is a manifest")
	return cmd
}

// writeAtomic writes path through a temporary file in its directory,
// renamed over path only when write succeeds.
func writeAtomic(path string, write func(io.Writer) (int64, error)) (int64, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".weft-*")
	if err != nil {
		return 0, err
	}
	n, err := write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return 0, err
	}
	return n, nil
}

func newStatusCmd(s Streams) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status BLOB_ID",
		Short: "Show a blob's status on the control plane",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			id, c, err := blobCommand(ctx, cmd, args[0])
			if err != nil {
				return err
			}
			defer c.Close()
			info, err := c.Status(ctx, id)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(s.Out, info)
			}
			fmt.Fprintf(s.Out, "%s: %s (length %d, end epoch %d, certified epoch %d, %d registrations)\n", id, info.Status, info.Length, info.EndEpoch, info.CertifiedEpoch, info.Registrations)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newDeleteCmd(s Streams) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "delete BLOB_ID",
		Short: "Delete a deletable blob you own",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			id, c, err := blobCommand(ctx, cmd, args[0])
			if err != nil {
				return err
			}
			defer c.Close()
			if err := c.Delete(ctx, id); err != nil {
				return err
			}
			if asJSON {
				return printJSON(s.Out, map[string]any{"blobId": id, "deleted": true})
			}
			fmt.Fprintf(s.Out, "deleted %s\n", id)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newInfoCmd(s Streams) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "info",
		Short: "Show the network's parameters, epoch and committee",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := connect(ctx, cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			st, err := c.Control().Status(ctx)
			if err != nil {
				return err
			}
			com, err := c.Control().Committee(ctx, 0)
			if err != nil {
				return err
			}
			// While the epoch is syncing, readers ask the previous
			// committee (the last whose change was done) first.
			prev, err := c.Control().PreviousCommittee(ctx, st)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(s.Out, map[string]any{"status": st, "epochState": st.EpochState, "committee": com, "previousCommittee": prev})
			}
			p := st.Params
			fmt.Fprintf(s.Out, "network %s: %d shards (f = %d, quorum %d), epoch %d (%s", p.NetworkID, p.Shards, p.F(), p.Quorum(), st.Epoch, st.EpochState)
			if st.EpochState == "syncing" {
				fmt.Fprintf(s.Out, " from epoch %d, %d of %d shards synced", st.PreviousEpoch, st.SyncedWeight, p.Quorum())
			}
			fmt.Fprintf(s.Out, "), height %d\n", st.Height)
			for _, m := range com.Members {
				fmt.Fprintf(s.Out, "  %-10s %s  %s  weight %d  shards %v\n", m.Name, m.Key.Short(), m.Address, m.Weight, m.Shards)
			}
			if prev != nil && st.EpochState == "syncing" {
				fmt.Fprintf(s.Out, "previous committee (epoch %d):\n", prev.Epoch)
				for _, m := range prev.Members {
					fmt.Fprintf(s.Out, "  %-10s %s  %s  weight %d  shards %v\n", m.Name, m.Key.Short(), m.Address, m.Weight, m.Shards)
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newDevnetCmd(s Streams) *cobra.Command {
	var cfg devnet.Config
	cmd := &cobra.Command{
		Use:   "devnet --dir DIR [--nodes N] [--shards S]",
		Short: "Run a local network: control plane and storage nodes on loopback",
		Long: `Run a local Weft network until SIGINT or SIGTERM: the embedded control plane
(one CometBFT validator in this process), N storage nodes as separate
weft node processes and a weft gateway process, all on 127.0.0.1. The
children die with the devnet (on Linux, even on kill -9); nodes or a gateway
an earlier run of DIR left running are stopped first. The first run creates the network in
DIR (keys, configs, genesis); later runs resume it. When ready, DIR/devnet.json
describes it and DIR/client.json is a client config for weft store/read.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cfg.Dir == "" {
				return usagef("devnet needs --dir")
			}
			cfg.Out = s.Out
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return devnet.Run(ctx, cfg)
		},
	}
	cmd.Flags().StringVar(&cfg.Dir, "dir", "", "directory of the devnet (created on first run)")
	cmd.Flags().IntVar(&cfg.Nodes, "nodes", 0, "storage nodes (default 7)")
	cmd.Flags().IntVar(&cfg.Shards, "shards", 0, "shards (default 28)")
	cmd.Flags().Var(&challengeFlag{&cfg.ChallengeInterval}, "challenge-interval", `how often storage challenges open, e.g. 30s, or "off" (default 30s; set when DIR is created)`)
	// For tests that break nodes on purpose (node config testHooks).
	cmd.Flags().BoolVar(&cfg.TestHooks, "test-hooks", false, "turn on the nodes' test hooks (tests only; set when DIR is created)")
	cmd.Flags().MarkHidden("test-hooks")
	cmd.AddCommand(newDevnetAddNodeCmd(s), newDevnetRemoveNodeCmd(s), newDevnetAdvanceEpochCmd(s))
	return cmd
}

func newDevnetAddNodeCmd(s Streams) *cobra.Command {
	var (
		dir    string
		weight uint64
	)
	cmd := &cobra.Command{
		Use:   "add-node --dir DIR [--weight W]",
		Short: "Add a storage node to the running devnet in DIR",
		Long: `Ask the devnet running in DIR (through its control endpoint, named in
DIR/devnet.json) to create one more node (its key in DIR/keys, its config in
DIR/node-K/config.json on a free loopback port), start it as one of its
children, wait until it is healthy and registered, and give it weight with the
admin key: by default the weight most members have. It joins the committee at
the next epoch boundary (weft devnet advance-epoch). The devnet resumes it
with the others.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return usagef("devnet add-node needs --dir")
			}
			n, err := devnet.AddNode(cmd.Context(), dir, weight)
			if err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "%s added at %s (key %s) with weight %d; it joins the committee at epoch %d\n", n.Name, n.API, n.Key, n.Weight, n.FromEpoch)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "directory of the running devnet")
	cmd.Flags().Uint64Var(&weight, "weight", 0, "the node's weight (default: the weight of most members)")
	return cmd
}

func newDevnetRemoveNodeCmd(s Streams) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "remove-node --dir DIR NAME",
		Short: "Make a node of the running devnet in DIR leave the committee",
		Long: `Submit LeaveCommittee from the node's key: it is in no committee from the next
epoch on. The command returns at once and does not advance the epoch; at the
next epoch boundary (weft devnet advance-epoch, or the epoch's end) the node's
shards move to the others, and the devnet stops the node once that change is
done and the node dropped the shards it served read-only meanwhile (or a
minute after the change is done). It stays in devnet.json with "left": true
and is not started again when the devnet resumes.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return usagef("devnet remove-node needs --dir")
			}
			r, err := devnet.RemoveNode(cmd.Context(), dir, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "%s leaves the committee from epoch %d; the devnet stops it once that epoch's change is done\n", r.Name, r.LeaveEpoch)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "directory of the running devnet")
	return cmd
}

func newDevnetAdvanceEpochCmd(s Streams) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "advance-epoch --dir DIR",
		Short: "Start the next epoch of the devnet in DIR now (its admin key)",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return usagef("devnet advance-epoch needs --dir")
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			ch, err := devnet.AdvanceEpoch(ctx, dir)
			if err != nil {
				return err
			}
			if ch.State == "done" {
				fmt.Fprintf(s.Out, "epoch %d started (done: the committee is unchanged)\n", ch.Epoch)
			} else {
				fmt.Fprintf(s.Out, "epoch %d started (%s from epoch %d)\n", ch.Epoch, ch.State, ch.PreviousEpoch)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "directory of the running devnet")
	return cmd
}

func newGatewayCmd(s Streams) *cobra.Command {
	var listen string
	var gcfg gateway.Config
	cmd := &cobra.Command{
		Use:   "gateway --listen ADDR",
		Short: "Serve the publisher (PUT /v1/blobs) and aggregator (GET /v1/blobs/{id}) API",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			c, err := dial(ctx, cmd, false) // long-lived: tables built once, up front
			if err != nil {
				return err
			}
			defer c.Close()
			l, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			// The byte budget counts what requests hold; a soft memory limit a
			// little above it makes the collector return garbage before the
			// process grows past it (unless GOMEMLIMIT says otherwise).
			if os.Getenv("GOMEMLIMIT") == "" {
				budget := gcfg.MaxBytesInFlight
				if budget <= 0 {
					budget = gateway.MaxBytesInFlight
				}
				debug.SetMemoryLimit(budget + budget/4 + 256<<20)
			}
			// Bounded connections: idle ones close, and a request may take
			// at most 15 minutes (a maximum-size blob at a few MB/s).
			srv := &http.Server{Handler: gateway.New(c, gcfg).Handler(), ReadHeaderTimeout: 10 * time.Second,
				ReadTimeout: 15 * time.Minute, WriteTimeout: 15 * time.Minute, IdleTimeout: time.Minute, MaxHeaderBytes: 64 << 10}
			go func() { <-ctx.Done(); srv.Close() }()
			fmt.Fprintf(s.Out, "gateway listening on http://%s\n", l.Addr())
			if err := srv.Serve(l); err != nil && err != http.ErrServerClosed {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:9000", "address to listen on")
	cmd.Flags().Int64Var(&gcfg.MaxBlobBytes, "max-blob-bytes", gateway.MaxBlobBytes, "largest blob accepted")
	cmd.Flags().Int64Var(&gcfg.MaxBytesInFlight, "max-bytes-in-flight", gateway.MaxBytesInFlight, "bytes all requests may hold at once (bodies, encodings, data served)")
	cmd.Flags().DurationVar(&gcfg.BudgetWait, "budget-wait", gateway.BudgetWait, "how long a request waits for bytes in flight before 503")
	return cmd
}

// challengeFlag is a duration flag that also takes "off".
type challengeFlag struct{ d *time.Duration }

func (f *challengeFlag) String() string {
	if f.d == nil || *f.d == 0 {
		return ""
	}
	if *f.d < 0 {
		return "off"
	}
	return f.d.String()
}

func (f *challengeFlag) Set(v string) error {
	if v == "off" || v == "0" {
		*f.d = -1
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return fmt.Errorf("want a positive duration such as 30s, or off")
	}
	*f.d = d
	return nil
}

func (f *challengeFlag) Type() string { return "duration" }

// sizeFlag is a byte-size flag: 1048576, 1MiB, 64MiB.
type sizeFlag struct{ v *int64 }

func (f *sizeFlag) String() string {
	if f.v == nil {
		return ""
	}
	return bench.FormatSize(*f.v)
}

func (f *sizeFlag) Set(s string) error {
	v, err := bench.ParseSize(s)
	if err != nil {
		return err
	}
	if v <= 0 {
		return fmt.Errorf("want a positive size such as 64MiB")
	}
	*f.v = v
	return nil
}

func (f *sizeFlag) Type() string { return "size" }
