package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/weftnet/weft/internal/gateway"
)

// newGatewayCmd is weft gateway: the HTTP publisher and aggregator over
// the SDK.
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
			if os.Getenv("GOMEMLIMIT") == "" {
				debug.SetMemoryLimit(gateway.MemoryLimit(gcfg))
			}
			g, err := gateway.Start(ctx, c, listen, gcfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "gateway listening on http://%s\n", g.Addr())
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return g.Shutdown(sctx)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:9000", "address to listen on")
	cmd.Flags().Int64Var(&gcfg.MaxBlobBytes, "max-blob-bytes", gateway.MaxBlobBytes, "largest blob accepted")
	cmd.Flags().Int64Var(&gcfg.MaxBytesInFlight, "max-bytes-in-flight", gateway.MaxBytesInFlight, "bytes all requests may hold at once (bodies, encodings, data served)")
	cmd.Flags().DurationVar(&gcfg.BudgetWait, "budget-wait", gateway.BudgetWait, "how long a request waits for bytes in flight before 503")
	return cmd
}
