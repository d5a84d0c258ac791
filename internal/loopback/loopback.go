// Package loopback picks addresses on 127.0.0.1 for the local networks
// Weft starts (devnets, tests, benchmarks).
package loopback

import "net"

// FreeAddr returns a host:port on 127.0.0.1 that was free a moment ago.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
