package control

import (
	"errors"
	"strings"
	"testing"
)

// TestAttributes: a registration carries its attributes; the first
// registration of an ID gives the blob record its attributes; attributes
// over the bound, of an unknown kind or with control characters are
// refused; and the largest attributes JSON can make still fit the
// registration's transaction size bound.
func TestAttributes(t *testing.T) {
	n := newTestNet(t, 4, 4, 0)
	id := blobID(1)
	body := regBody(id, 5, false)
	body.Attributes = &Attributes{ContentType: "image/png", Name: "cat ✓.png", Kind: KindBlob}
	if r := n.one(n.tx(n.user, Payload{RegisterBlob: body})); r.err != nil {
		t.Fatal(r.err)
	}
	reg, err := n.m.Registration(id, KeyOf(n.user))
	if err != nil || reg == nil || *reg.Attributes != *body.Attributes {
		t.Fatalf("registration %+v %v", reg, err)
	}
	info, err := n.m.Blob(id)
	if err != nil || info.Attributes == nil || *info.Attributes != *body.Attributes {
		t.Fatalf("blob %+v %v", info, err)
	}
	// A second owner's attributes are its own; the blob keeps the first.
	other := testKey("other")
	body2 := regBody(id, 5, false)
	body2.Attributes = &Attributes{ContentType: "text/html"}
	if r := n.one(n.tx(other, Payload{RegisterBlob: body2})); r.err != nil {
		t.Fatal(r.err)
	}
	if reg, _ := n.m.Registration(id, KeyOf(other)); reg.Attributes.ContentType != "text/html" {
		t.Fatalf("second registration %+v", reg)
	}
	if info, _ := n.m.Blob(id); info.Attributes.ContentType != "image/png" {
		t.Fatalf("blob attributes changed: %+v", info.Attributes)
	}

	for name, a := range map[string]*Attributes{
		"too large":         {Name: strings.Repeat("x", MaxAttributesSize-2), Kind: "blob"},
		"unknown kind":      {Kind: "folder"},
		"control character": {Name: "a\nb"},
	} {
		b := regBody(blobID(2), 5, false)
		b.Attributes = a
		if r := n.one(n.tx(n.user, Payload{RegisterBlob: b})); !errors.Is(r.err, ErrBadRequest) {
			t.Errorf("%s: %v", name, r.err)
		}
	}

	// The worst case for JSON: every byte escaped as \u00XX.
	b := regBody(blobID(3), 5, false)
	b.Attributes = &Attributes{Name: strings.Repeat("<", MaxAttributesSize-len(KindManifest)), Kind: KindManifest}
	if err := b.Attributes.Validate(); err != nil {
		t.Fatal(err)
	}
	raw := n.tx(n.user, Payload{RegisterBlob: b})
	if len(raw) <= maxSmallTxSize {
		t.Fatalf("worst-case registration is %d bytes: the test does not test the bound", len(raw))
	}
	if r := n.one(raw); r.err != nil {
		t.Fatalf("worst-case registration of %d bytes: %v", len(raw), r.err)
	}
}
