package cli

import (
	"fmt"
	"net"
	"net/http"
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
