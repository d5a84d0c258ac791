package loopback

import (
	"net"
	"testing"
)

// TestFreeAddr: addresses are on loopback, outside the ephemeral range,
// bindable, and never handed out twice by one process.
func TestFreeAddr(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		addr, err := FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		if seen[addr] {
			t.Fatalf("%s handed out twice", addr)
		}
		seen[addr] = true
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("%s is not free: %v", addr, err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if port < lowPort || port > highPort {
			t.Fatalf("port %d outside %d–%d", port, lowPort, highPort)
		}
	}
}
