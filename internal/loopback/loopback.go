// Package loopback picks addresses on 127.0.0.1 for the local networks
// Weft starts (devnets, tests, benchmarks).
package loopback

import (
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
)

// Ports are picked below Linux's default ephemeral range (32768–60999),
// which outgoing connections draw from: a port handed out here and bound
// a moment later is not taken meanwhile by some client's connection.
const (
	lowPort  = 20000
	highPort = 32767
)

var (
	mu     sync.Mutex
	handed = map[int]bool{} // ports this process handed out already
)

// FreeAddr returns a host:port on 127.0.0.1 that was free a moment ago
// and that this process has not handed out before.
func FreeAddr() (string, error) {
	mu.Lock()
	defer mu.Unlock()
	for try := 0; try < 200; try++ {
		port := lowPort + rand.IntN(highPort-lowPort+1)
		if handed[port] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		l.Close()
		handed[port] = true
		return l.Addr().String(), nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
