// Package cli implements the weft command: one binary whose subcommands
// call into Weft's packages. cmd/weft only hands it the process's
// arguments and streams.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/weftnet/weft/blob"
)

// Streams are the standard streams a command uses.
type Streams struct {
	In       io.Reader
	Out, Err io.Writer
}

// Run executes the weft command line args (without the program name) and
// returns the process exit code.
func Run(args []string, s Streams) int {
	root := newRoot(s)
	root.SetArgs(escapeBlobIDs(args))
	if err := root.ExecuteContext(context.Background()); err != nil {
		fmt.Fprintf(s.Err, "weft: %v\n", err)
		var u usageError
		if errors.As(err, &u) {
			return 2
		}
		return 1
	}
	return 0
}

// escapeBlobIDs moves blob IDs that begin with '-' (one in 64 does) behind
// "--", so that they are taken as arguments, not as flags: a user types
// weft read -erX... and means the blob.
func escapeBlobIDs(args []string) []string {
	var keep, ids []string
	for i, a := range args {
		if a == "--" {
			if len(ids) == 0 {
				return args
			}
			return append(append(append(keep, "--"), ids...), args[i+1:]...)
		}
		if strings.HasPrefix(a, "-") {
			if _, err := blob.ParseID(a); err == nil {
				ids = append(ids, a)
				continue
			}
		}
		keep = append(keep, a)
	}
	if len(ids) == 0 {
		return args
	}
	return append(append(keep, "--"), ids...)
}

// usageError marks mistakes in how a command was called.
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func newRoot(s Streams) *cobra.Command {
	root := &cobra.Command{
		Use:           "weft",
		Short:         "Weft: a decentralized blob store that heals itself",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.PersistentFlags().String("config", "", "client config file (or WEFT_CONFIG); weft devnet writes one")
	root.AddCommand(newBlobIDCmd(s), newBenchCmd(s), newValidatorCmd(s), newNodeCmd(s), newDevnetCmd(s),
		newStoreCmd(s), newReadCmd(s), newStatusCmd(s), newDeleteCmd(s), newInfoCmd(s), newGatewayCmd(s), newAdminCmd(s),
		newChallengesCmd(s), newSimCmd(s))
	return root
}

// exactArgs is cobra.ExactArgs returning a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s takes %d argument(s), got %d (see weft %s --help)", cmd.Name(), n, len(args), cmd.Name())
		}
		return nil
	}
}
