package client_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/chain"
	"github.com/weftnet/weft/client"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/control/rpc"
)

// TestSquattedBlobIsStoredUnderItsOwner: an attacker who registers a
// victim's content first (deletable, about to expire) gains nothing: the
// victim's store makes its own registration, uploads and certifies; the
// attacker's delete and extend touch only the attacker's registration;
// and a third user storing the same content only adds a registration.
func TestSquattedBlobIsStoredUnderItsOwner(t *testing.T) {
	c, _ := network(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	data := bytes.Repeat([]byte("the victim's file "), 5000)
	e, err := c.Codec().Encode(data)
	if err != nil {
		t.Fatal(err)
	}
	ctl := client.Control(c)
	st, err := ctl.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seed := sha256.Sum256([]byte("attacker"))
	attacker := rpc.NewSigner(ed25519.NewKeyFromSeed(seed[:]))
	// A forged length is refused outright.
	if _, err := ctl.Submit(ctx, attacker, control.Payload{RegisterBlob: &control.RegisterBlob{
		ID: e.ID, Length: e.Length + 1, Encoding: blob.RS2D16, Root: e.Root, EndEpoch: st.Epoch + 1, Deletable: true}}); !errors.Is(err, chain.ErrBadRequest) {
		t.Fatalf("registration with a forged length: %v", err)
	}
	if _, err := ctl.Submit(ctx, attacker, control.Payload{RegisterBlob: &control.RegisterBlob{
		ID: e.ID, Length: e.Length, Encoding: blob.RS2D16, Root: e.Root, EndEpoch: st.Epoch + 1, Deletable: true}}); err != nil {
		t.Fatal(err)
	}
	r, err := c.Store(ctx, data, client.StoreOptions{Epochs: 20})
	if err != nil {
		t.Fatalf("victim's store: %v", err)
	}
	if r.AlreadyCertified || r.EndEpoch != st.Epoch+20 {
		t.Fatalf("victim's store result: %+v", r)
	}
	if _, err := ctl.Submit(ctx, attacker, control.Payload{DeleteBlob: &control.BlobRef{ID: e.ID}}); err != nil {
		t.Fatalf("attacker deletes its own registration: %v", err)
	}
	info, err := c.Status(ctx, e.ID)
	if err != nil || info.Status != chain.StatusCertified || info.Registrations != 1 {
		t.Fatalf("after the attacker's delete: %+v %v", info, err)
	}
	if _, err := ctl.Submit(ctx, attacker, control.Payload{ExtendBlob: &control.ExtendBlob{ID: e.ID, EndEpoch: st.Epoch + 99}}); !errors.Is(err, chain.ErrUnknownBlob) {
		t.Fatalf("a stranger's extend: %v", err)
	}
	if _, err := ctl.Submit(ctx, attacker, control.Payload{DeleteBlob: &control.BlobRef{ID: e.ID}}); !errors.Is(err, chain.ErrUnknownBlob) {
		t.Fatalf("a stranger's second delete: %v", err)
	}
	if got, err := c.Read(ctx, e.ID); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read after the attack: %v", err)
	}
	// Someone else storing the same content adds a registration, no upload.
	other, err := client.New(ctx, client.Config{ControlPlane: ctl.URL(), KeyFile: filepath.Join(t.TempDir(), "other.key")})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	r2, err := other.Store(ctx, data, client.StoreOptions{Epochs: 3, Deletable: true})
	if err != nil || !r2.AlreadyCertified || r2.EndEpoch != st.Epoch+3 {
		t.Fatalf("second owner's store: %+v %v", r2, err)
	}
	if info, _ := c.Status(ctx, e.ID); info.Registrations != 2 {
		t.Fatalf("registrations after a second owner stored: %d", info.Registrations)
	}
	// The second owner deleting its registration leaves the victim's.
	if err := other.Delete(ctx, e.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Read(ctx, e.ID); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read after the second owner deleted: %v", err)
	}
}
