package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/redstuff"
)

func newBlobIDCmd(s Streams) *cobra.Command {
	var shards int
	cmd := &cobra.Command{
		Use:   "blob-id --shards N FILE",
		Short: "Print the blob ID of a file, offline",
		Long: `Print the blob ID a file would have when stored on a network of N shards.
Nothing is sent anywhere. FILE may be - for standard input (read into memory);
a regular file is mapped read-only (or, where it cannot be, streamed) and
never copied into memory whole.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if shards == 0 {
				return usagef("blob-id needs --shards (the network's shard count)")
			}
			codec, err := redstuff.New(shards, redstuff.WithLazyTables())
			if err != nil {
				return usageError{err}
			}
			id, err := fileBlobID(codec, args[0], s.In)
			if err != nil {
				return err
			}
			fmt.Fprintln(s.Out, id)
			return nil
		},
	}
	cmd.Flags().IntVar(&shards, "shards", 0, "number of shards of the network (4..65536)")
	return cmd
}

func fileBlobID(codec *redstuff.Codec, path string, stdin io.Reader) (blob.ID, error) {
	if path == "-" {
		data, err := io.ReadAll(stdin)
		if err != nil {
			return blob.ID{}, fmt.Errorf("reading standard input: %w", err)
		}
		return codec.BlobID(data)
	}
	f, err := os.Open(path)
	if err != nil {
		return blob.ID{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return blob.ID{}, err
	}
	if !st.Mode().IsRegular() {
		data, err := io.ReadAll(f)
		if err != nil {
			return blob.ID{}, fmt.Errorf("reading %s: %w", path, err)
		}
		return codec.BlobID(data)
	}
	// Build the codec's tables on another core while the file is mapped.
	go codec.Prepare(uint64(st.Size()))
	// A mapped file is hashed in place, with no copy and no second read
	// for the column pass; where mapping fails, it is streamed.
	if data, unmap, ok := mapFile(f, st.Size()); ok {
		defer unmap()
		return codec.BlobID(data)
	}
	return codec.BlobIDReader(f, uint64(st.Size()))
}
