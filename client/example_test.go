package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/weftnet/weft/chain"
	"github.com/weftnet/weft/client"
	"github.com/weftnet/weft/client/clienttest"
)

// Store a blob, read it back whole and in part, and ask its status, on a
// network running in this process.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "weft-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	network, err := clienttest.Start(ctx, clienttest.Options{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer network.Close()

	c, err := client.New(ctx, network.Config())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	stored, err := c.Store(ctx, []byte("hello, weft"), client.StoreOptions{Epochs: 3})
	if err != nil {
		log.Fatal(err)
	}
	whole, err := c.Read(ctx, stored.BlobID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("read: %s\n", whole)

	part, err := c.ReadRange(ctx, stored.BlobID, 7, 4)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("bytes 7..10: %s\n", part)

	info, err := c.Status(ctx, stored.BlobID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("status: %s, %d bytes, until epoch %d\n", info.Status, info.Length, info.EndEpoch)

	// The blob was not stored as deletable: the control plane refuses,
	// and the error says why.
	if err := c.Delete(ctx, stored.BlobID); errors.Is(err, chain.ErrNotAllowed) {
		fmt.Println("delete: not allowed")
	}
	// Output:
	// read: hello, weft
	// bytes 7..10: weft
	// status: certified, 11 bytes, until epoch 4
	// delete: not allowed
}
