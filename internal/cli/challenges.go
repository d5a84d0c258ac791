package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/weftnet/weft/internal/control"
)

func newChallengesCmd(s Streams) *cobra.Command {
	var (
		asJSON bool
		window uint64
		limit  int
	)
	cmd := &cobra.Command{
		Use:   "challenges",
		Short: "Show the latest storage challenge windows and each node's result and score",
		Long: `Show storage challenge windows: the sampled blobs and, per committee
member, its shards, its result in the window (passed, failed or pending
while the window is open), its score now (an exponentially weighted pass
rate) and its weight now (0 once evicted).`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			ctl, err := connectControl(ctx, cmd)
			if err != nil {
				return err
			}
			defer ctl.Close()
			reps, err := ctl.Challenges(ctx, window, limit)
			if err != nil {
				return err
			}
			if reps == nil {
				reps = []control.WindowReport{}
			}
			if asJSON {
				return printJSON(s.Out, map[string]any{"windows": reps})
			}
			if len(reps) == 0 {
				fmt.Fprintln(s.Out, "no challenge windows yet (challenges are off when the genesis sets no challengeInterval)")
				return nil
			}
			for _, r := range reps {
				state := "closed"
				if !r.Closed {
					state = "open until " + r.Deadline.Format(time.RFC3339)
				}
				fmt.Fprintf(s.Out, "window %d (epoch %d, opened %s, %s): %d blobs, %d symbols per (shard, blob)\n",
					r.Window, r.Epoch, r.OpenedAt.Format(time.RFC3339), state, len(r.Blobs), r.Symbols)
				for _, b := range r.Blobs {
					fmt.Fprintf(s.Out, "  blob %s (%d bytes)\n", b.ID, b.Length)
				}
				tw := tabwriter.NewWriter(s.Out, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "  NODE\tKEY\tSHARDS\tRESULT\tSCORE\tWEIGHT\tANSWER BYTES")
				for _, nd := range r.Nodes {
					fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%.3f\t%d\t%d\n", nd.Name, nd.Key.Short(), shardList(nd.Shards), nd.Result, nd.Score, nd.Weight, nd.AnswerBytes)
				}
				tw.Flush()
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().Uint64Var(&window, "window", 0, "show this window only (0: the latest)")
	cmd.Flags().IntVar(&limit, "limit", 5, "how many of the latest windows to show")
	return cmd
}

func shardList(s []int) string {
	if len(s) == 0 {
		return "-"
	}
	parts := make([]string, len(s))
	for i, v := range s {
		parts[i] = fmt.Sprint(v)
	}
	out := strings.Join(parts, ",")
	if len(out) > 40 {
		out = fmt.Sprintf("%d shards", len(s))
	}
	return out
}
