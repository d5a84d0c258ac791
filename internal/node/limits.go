package node

import (
	"container/list"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/httpapi"
	"github.com/weftnet/weft/redstuff"
)

// Request limits. Nothing a peer declares decides what the node
// allocates: bodies are read into buffers that grow as bytes arrive,
// after the request took a share of MaxInflightBytes sized by the largest
// body it may have; bodies and answers must move at MinBytesPerSecond;
// connections are capped at MaxConnections.

// server returns the node's HTTP server. ReadTimeout and WriteTimeout
// bound small requests; handlers with big bodies or answers push their
// deadlines on by the bytes they move (paced and writeDeadline).
func (n *Node) server(l net.Listener) *http.Server {
	t := time.Duration(n.cfg.RequestTimeout)
	srv := &http.Server{
		Handler:           n.Handler(),
		ReadHeaderTimeout: t,
		ReadTimeout:       t,
		WriteTimeout:      t,
		IdleTimeout:       time.Duration(n.cfg.IdleTimeout),
		MaxHeaderBytes:    n.cfg.MaxHeaderBytes,
		ErrorLog:          n.logger,
	}
	if cl, ok := l.(*connLimiter); ok {
		srv.ConnState = cl.track
	}
	return srv
}

// connLimiter is a listener that keeps at most max connections open:
// when full, a new connection closes the one idle longest (or that never
// sent a request), or is closed itself if every connection is busy.
type connLimiter struct {
	net.Listener
	max     int
	refused func()
	mu      sync.Mutex
	open    int
	idle    map[net.Conn]time.Time
}

func (n *Node) limitConns(l net.Listener) net.Listener {
	return &connLimiter{Listener: l, max: n.cfg.MaxConnections, idle: map[net.Conn]time.Time{},
		refused: func() { n.m.refused.WithLabelValues("connections").Inc() }}
}

func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		if l.open >= l.max {
			var victim net.Conn
			var since time.Time
			for v, t := range l.idle {
				if victim == nil || t.Before(since) {
					victim, since = v, t
				}
			}
			if victim == nil {
				l.mu.Unlock()
				c.Close()
				l.refused()
				continue
			}
			delete(l.idle, victim)
			l.mu.Unlock()
			victim.Close() // counts itself out
			l.refused()
			l.mu.Lock()
		}
		l.open++
		lc := &limitedConn{Conn: c, l: l}
		l.idle[lc] = time.Now()
		l.mu.Unlock()
		return lc, nil
	}
}

// track follows connection states (http.Server.ConnState).
func (l *connLimiter) track(c net.Conn, s http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch s {
	case http.StateNew, http.StateIdle:
		l.idle[c] = time.Now()
	default:
		delete(l.idle, c)
	}
}

type limitedConn struct {
	net.Conn
	l    *connLimiter
	once sync.Once
}

func (c *limitedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		c.l.open--
		delete(c.l.idle, c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

// byteBudget is a semaphore of bytes: the request bodies the node holds.
type byteBudget struct {
	mu      sync.Mutex
	cap     int64
	used    int64
	waiters int
	freed   chan struct{} // closed (and replaced) when bytes are released
}

func newByteBudget(capacity int64) *byteBudget {
	return &byteBudget{cap: capacity, freed: make(chan struct{})}
}

// Waiting for room: at most maxBodyWaiters requests, each for at most
// bodyWait; the others are refused at once.
const (
	maxBodyWaiters = 64
	bodyWait       = 5 * time.Second
)

// acquire takes k bytes (at most the whole budget) and returns what it
// took, or false when there was no room in time.
func (b *byteBudget) acquire(ctx context.Context, k int64) (int64, bool) {
	k = max(min(k, b.cap), 0)
	var timeout <-chan time.Time
	for {
		b.mu.Lock()
		if b.used+k <= b.cap {
			b.used += k
			b.mu.Unlock()
			return k, true
		}
		if b.waiters >= maxBodyWaiters {
			b.mu.Unlock()
			return 0, false
		}
		b.waiters++
		freed := b.freed
		b.mu.Unlock()
		if timeout == nil {
			t := time.NewTimer(bodyWait)
			defer t.Stop()
			timeout = t.C
		}
		ok := true
		select {
		case <-freed:
		case <-timeout:
			ok = false
		case <-ctx.Done():
			ok = false
		}
		b.mu.Lock()
		b.waiters--
		b.mu.Unlock()
		if !ok {
			return 0, false
		}
	}
}

func (b *byteBudget) release(k int64) {
	b.mu.Lock()
	b.used -= k
	close(b.freed)
	b.freed = make(chan struct{})
	b.mu.Unlock()
}

func (b *byteBudget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// reserveBody takes room for a body of at most limit bytes (its declared
// length when it has one) and returns the function that gives it back.
func (n *Node) reserveBody(w http.ResponseWriter, r *http.Request, limit int64) (func(), error) {
	k := limit
	if r.ContentLength >= 0 {
		k = min(k, r.ContentLength)
	}
	got, ok := n.inflight.acquire(r.Context(), k)
	if !ok {
		n.m.refused.WithLabelValues("busy").Inc()
		retryAfter(w, 1)
		return nil, httpapi.Errorf(http.StatusServiceUnavailable, "busy: %d bytes of request bodies in flight", n.inflight.inUse())
	}
	return func() { n.inflight.release(got) }, nil
}

// due returns when a transfer of done bytes, started at start, must
// have finished: the request timeout plus its size at the minimum rate.
func (n *Node) due(start time.Time, done int64) time.Time {
	return start.Add(time.Duration(n.cfg.RequestTimeout) + time.Duration(float64(done)/float64(n.cfg.MinBytesPerSecond)*float64(time.Second)))
}

// writeDeadline gives an answer of size bytes the time it needs at the
// minimum rate.
func (n *Node) writeDeadline(w http.ResponseWriter, size int64) {
	http.NewResponseController(w).SetWriteDeadline(n.due(time.Now(), size))
}

// pacedReader reads a request body, pushing the connection's read (and
// write, for the answer after it) deadline on as bytes arrive: a body
// slower than MinBytesPerSecond is cut off.
type pacedReader struct {
	n     *Node
	r     io.Reader
	rc    *http.ResponseController
	start time.Time
	done  int64
}

func (n *Node) paced(w http.ResponseWriter, r io.Reader) *pacedReader {
	return &pacedReader{n: n, r: r, rc: http.NewResponseController(w), start: time.Now()}
}

func (p *pacedReader) Read(b []byte) (int, error) {
	// What has come so far buys the time for more: a body that keeps
	// MinBytesPerSecond never meets the deadline.
	d := p.n.due(p.start, p.done)
	p.rc.SetReadDeadline(d)
	p.rc.SetWriteDeadline(d.Add(time.Duration(p.n.cfg.RequestTimeout)))
	k, err := p.r.Read(b)
	p.done += int64(k)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		p.n.m.refused.WithLabelValues("slow").Inc()
	}
	return k, err
}

// readBody reads a body of at most limit bytes, paced, into a buffer
// that grows with what arrives (never sized by the declared length
// alone). The buffer goes back with putBuffer.
func (n *Node) readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	rd := n.paced(w, http.MaxBytesReader(w, r.Body, limit))
	want := limit
	if r.ContentLength >= 0 {
		want = r.ContentLength
	}
	buf := getBuffer(int(min(want, 64<<10)))[:0]
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) >= want {
				// Full: only the end of the body may follow.
				var one [1]byte
				k, err := rd.Read(one[:])
				if k > 0 {
					putBuffer(buf)
					return nil, errors.New("body longer than its Content-Length")
				}
				if err == io.EOF {
					return buf, nil
				}
				if err != nil {
					putBuffer(buf)
					return nil, err
				}
				continue
			}
			nb := getBuffer(int(min(2*int64(cap(buf)), want)))[:len(buf)]
			copy(nb, buf)
			putBuffer(buf)
			buf = nb
		}
		k, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+k]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			putBuffer(buf)
			return nil, err
		}
	}
}

// bodyError turns a failed body read into the client's error.
func bodyError(what string, err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return httpapi.Errorf(http.StatusRequestEntityTooLarge, "%s: body exceeds %d bytes", what, mbe.Limit)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return httpapi.Errorf(http.StatusRequestTimeout, "%s: body too slow", what)
	}
	return httpapi.Errorf(http.StatusBadRequest, "%s: reading body: %v", what, err)
}

// maxSliverMessage is the largest sliver message of kind k a blob of
// that length can have.
func maxSliverMessage(p redstuff.Params, length uint64, k blob.SliverKind) int64 {
	const commitment = 2 + 4 + 2*blob.HashSize + 1 + blob.MaxPathLen*blob.HashSize
	return 6 + commitment + 15 + int64(p.SliverLen(k))*int64(p.SymbolSize(length))
}

// maxProof is the largest inconsistency proof, in either form, worth
// checking for a blob of that length: at most every symbol of both
// slivers of every pair, each with its proof, and every commitment.
func maxProof(p redstuff.Params, length uint64) int64 {
	const path = 1 + blob.MaxPathLen*blob.HashSize
	const commitment = 4 + 2*blob.HashSize + path
	symbol := int64(13+p.SymbolSize(length)) + 1 + path + commitment
	return 2 + 4 + int64(p.N)*4 + 4 + int64(p.N)*commitment + 4 + 2*int64(p.N)*int64(p.N)*symbol
}

func retryAfter(w http.ResponseWriter, secs int) {
	w.Header().Set("Retry-After", strconv.Itoa(secs))
}

// sourceCache keeps extended slivers (symbol sources) for symbol
// requests, least recently used out first, within a byte bound.
type sourceCache struct {
	mu    sync.Mutex
	max   int64
	size  int64
	lru   *list.List // of *cacheEntry, most recent first
	items map[sourceKey]*list.Element
}

type sourceKey struct {
	id   blob.ID
	pair int
	kind blob.SliverKind
}

type cacheEntry struct {
	key  sourceKey
	src  *redstuff.SymbolSource
	size int64
}

func newSourceCache(max int64) *sourceCache {
	return &sourceCache{max: max, lru: list.New(), items: map[sourceKey]*list.Element{}}
}

func (c *sourceCache) get(k sourceKey) *redstuff.SymbolSource {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		c.lru.MoveToFront(e)
		return e.Value.(*cacheEntry).src
	}
	return nil
}

func (c *sourceCache) put(k sourceKey, src *redstuff.SymbolSource) {
	size := src.Size()
	c.mu.Lock()
	defer c.mu.Unlock()
	if size > c.max {
		return
	}
	if e, ok := c.items[k]; ok {
		c.remove(e)
	}
	c.items[k] = c.lru.PushFront(&cacheEntry{key: k, src: src, size: size})
	c.size += size
	for c.size > c.max {
		c.remove(c.lru.Back())
	}
}

func (c *sourceCache) remove(e *list.Element) {
	ce := c.lru.Remove(e).(*cacheEntry)
	delete(c.items, ce.key)
	c.size -= ce.size
}

// dropBlob forgets a blob's sources (deleted, or a sliver found corrupt).
func (c *sourceCache) dropBlob(id blob.ID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.items {
		if k.id == id {
			c.remove(e)
		}
	}
}
