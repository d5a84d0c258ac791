package node

import (
	"net"
	"net/http"
	"time"
)

// server returns the node's HTTP server over l.
func (n *Node) server(l net.Listener) *http.Server {
	return &http.Server{Handler: n.Handler(), ReadHeaderTimeout: 10 * time.Second}
}
