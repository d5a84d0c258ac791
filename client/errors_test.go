package client_test

import (
	"context"
	"errors"
	"testing"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/chain"
	"github.com/weftnet/weft/client"
	"github.com/weftnet/weft/client/clienttest"
)

// Every error the SDK returns can be tested with errors.Is against a
// public sentinel; this file imports no internal package, as a program
// outside the module could not.
func TestErrorsArePublic(t *testing.T) {
	ctx := context.Background()
	network, err := clienttest.Start(ctx, clienttest.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer network.Close()
	c, err := client.New(ctx, network.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	kept, err := c.Store(ctx, []byte("kept"), client.StoreOptions{Epochs: 2})
	if err != nil {
		t.Fatal(err)
	}
	unknown := blob.ComputeID(blob.RS2D16, 1, blob.Hash{})
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"delete a blob stored as not deletable", c.Delete(ctx, kept.BlobID), chain.ErrNotAllowed},
		{"delete a blob never stored", c.Delete(ctx, unknown), chain.ErrUnknownBlob},
		{"store beyond the furthest end epoch", second(c.Store(ctx, []byte("long"), client.StoreOptions{Epochs: 1000})), chain.ErrEpoch},
		{"store with a control character in the name", second(c.Store(ctx, []byte("x"), client.StoreOptions{Attributes: &chain.Attributes{Name: "a\nb"}})), chain.ErrBadRequest},
		{"read a blob never stored", second(c.Read(ctx, unknown)), client.ErrNotAvailable},
	} {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	info, err := c.Status(ctx, unknown)
	if err != nil || info.Status != chain.StatusUnknown || info.ID != unknown {
		t.Errorf("status of a blob never stored: %+v, %v", info, err)
	}
}

func second[T any](_ T, err error) error { return err }
