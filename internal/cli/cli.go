// Package cli implements the weft command: one binary whose subcommands
// call into Weft's packages. cmd/weft only hands it the process's
// arguments and streams.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
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
	root.SetArgs(args)
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
		newStoreCmd(s), newReadCmd(s), newStatusCmd(s), newDeleteCmd(s), newInfoCmd(s), newGatewayCmd(s))
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
