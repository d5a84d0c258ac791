package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/weftnet/weft/internal/bench"

	"github.com/spf13/cobra"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/client"
	"github.com/weftnet/weft/files"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/control/rpc"
)

// clientConfig loads the client config named by --config or WEFT_CONFIG.
func clientConfig(cmd *cobra.Command) (client.Config, error) {
	path, _ := cmd.Flags().GetString("config")
	if path == "" {
		path = os.Getenv("WEFT_CONFIG")
	}
	if path == "" {
		return client.Config{}, usagef("no client config: pass --config FILE or set WEFT_CONFIG (weft devnet writes one)")
	}
	return client.LoadConfig(path)
}

// connect opens the SDK client named by --config or WEFT_CONFIG for a
// one-shot command: its codec builds the Reed–Solomon library's tables
// only if a decode needs them.
func connect(ctx context.Context, cmd *cobra.Command) (*client.Client, error) {
	return dial(ctx, cmd, true)
}

// dial opens the SDK client named by --config or WEFT_CONFIG; lazy says
// whether its codec defers the library's tables.
func dial(ctx context.Context, cmd *cobra.Command, lazy bool) (*client.Client, error) {
	cfg, err := clientConfig(cmd)
	if err != nil {
		return nil, err
	}
	cfg.LazyTables = lazy
	return client.New(ctx, cfg)
}

// connectControl connects to the control plane of the client config
// named by --config or WEFT_CONFIG, for commands that ask it directly.
func connectControl(ctx context.Context, cmd *cobra.Command) (*rpc.Client, error) {
	cfg, err := clientConfig(cmd)
	if err != nil {
		return nil, err
	}
	return rpc.Dial(ctx, cfg.ControlPlane)
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
			ctl, err := connectControl(ctx, cmd)
			if err != nil {
				return err
			}
			defer ctl.Close()
			st, err := ctl.Status(ctx)
			if err != nil {
				return err
			}
			com, err := ctl.Committee(ctx, 0)
			if err != nil {
				return err
			}
			// While the epoch is syncing, readers ask the previous
			// committee (the last whose change was done) first.
			prev, err := ctl.PreviousCommittee(ctx, st)
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
