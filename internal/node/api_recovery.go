package node

import (
	"net/http"

	"github.com/weftnet/weft/internal/httpapi"
	"github.com/weftnet/weft/internal/recovery"
)

// recoveryQueue answers GET /v1/recovery.
func (n *Node) recoveryQueue(w http.ResponseWriter, r *http.Request) error {
	n.rec.mu.Lock()
	q := RecoveryQueue{Pending: n.rec.sched.Pending(), InProgress: n.rec.sched.InProgress(), Entries: n.rec.sched.Entries(100)}
	n.rec.mu.Unlock()
	httpapi.JSON(w, q)
	return nil
}

// RecoveryQueue is the answer of GET /v1/recovery.
type RecoveryQueue struct {
	Pending    int              `json:"pending"`
	InProgress int              `json:"inProgress"`
	Entries    []recovery.Entry `json:"entries"` // the first 100, by blob ID
}
