package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/migration"
	"github.com/weftnet/weft/units"
)

// Config is a storage node's configuration file (JSON). Example:
//
//	{
//	  "name": "node-0",
//	  "listen": "127.0.0.1:9100",
//	  "address": "http://127.0.0.1:9100",
//	  "dataDir": "/var/lib/weft/node-0",
//	  "keyFile": "/etc/weft/node-0.key",
//	  "controlPlane": "http://127.0.0.1:26657",
//	  "maxBodyBytes": 1073741824,
//	  "maxSymbolsPerRequest": 100000,
//	  "diskReserveBytes": 67108864,
//	  "recoveryConcurrency": 2,
//	  "recoveryBatchBlobs": 64,
//	  "recoveryBatchBytes": 67108864,
//	  "recoveryDelay": "2s",
//	  "recoveryTimeout": "30s",
//	  "scrubInterval": "24h",
//	  "scrubBytesPerSecond": 33554432,
//	  "symbolConcurrency": 2,
//	  "symbolCacheBytes": 67108864,
//	  "maxInflightBytes": 268435456,
//	  "maxConnections": 1024,
//	  "maxHeaderBytes": 65536,
//	  "requestTimeout": "10s",
//	  "minBytesPerSecond": 65536,
//	  "idleTimeout": "60s",
//	  "syncBatchBlobs": 256,
//	  "syncBatchBytes": 33554432,
//	  "syncTimeout": "30s",
//	  "syncRetries": 3,
//	  "syncBackoff": "1s",
//	  "testHooks": false
//	}
//
// Every field after controlPlane is optional; the values above are the
// defaults (WithDefaults fills them in). Durations are Go duration
// strings; a scrubInterval of "off" turns the scrub off.
//
// The key file holds the node's Ed25519 identity (PEM, created on first
// start if missing). It must live outside dataDir, so that a replaced disk
// keeps the node's identity.
type Config struct {
	Name string `json:"name"`
	// Listen is the host:port the HTTP API binds to.
	Listen string `json:"listen"`
	// Address is the base URL peers and clients reach the API at, as
	// registered on the control plane. Default "http://" + the bound
	// listen address.
	Address string `json:"address,omitempty"`
	// DataDir holds the node's Pebble database.
	DataDir string `json:"dataDir"`
	// KeyFile is the node's identity key.
	KeyFile string `json:"keyFile"`
	// ControlPlane is the URL of a control plane validator's RPC.
	ControlPlane string `json:"controlPlane"`
	// MaxBodyBytes bounds an uploaded sliver message. Default 1 GiB.
	MaxBodyBytes int64 `json:"maxBodyBytes,omitempty"`
	// MaxSymbolsPerRequest bounds one recovery-symbol request. Default 100 000.
	MaxSymbolsPerRequest int `json:"maxSymbolsPerRequest,omitempty"`
	// DiskReserveBytes is the free space uploads must leave beyond what
	// the database still needs (its unflushed log); uploads that would eat
	// into it are refused (507) and health turns degraded. Half of it is
	// kept as a ballast file (dataDir/BALLAST) that is given up when the
	// disk fills anyway, so that the node can finish its writes and
	// restart. Default 64 MiB.
	DiskReserveBytes uint64 `json:"diskReserveBytes,omitempty"`

	// RecoveryConcurrency is how many recovery batches run at once.
	// Default 2.
	RecoveryConcurrency int `json:"recoveryConcurrency,omitempty"`
	// RecoveryBatchBlobs and RecoveryBatchBytes bound one recovery batch
	// (one request per peer covers the whole batch). Defaults 64 blobs
	// and 64 MiB of slivers to rebuild.
	RecoveryBatchBlobs int   `json:"recoveryBatchBlobs,omitempty"`
	RecoveryBatchBytes int64 `json:"recoveryBatchBytes,omitempty"`
	// RecoveryDelay is how long after a blob's certification the node
	// waits before rebuilding slivers it lacks, so that uploads still in
	// flight can land. Default 2s.
	RecoveryDelay units.Duration `json:"recoveryDelay,omitempty"`
	// RecoveryTimeout bounds one call to a peer for symbols (plus a second
	// per 8 MiB of answer). Default 30s.
	RecoveryTimeout units.Duration `json:"recoveryTimeout,omitempty"`
	// ScrubInterval is the time between two passes that re-verify every
	// stored sliver against its commitment. Default 24h; "off" disables.
	ScrubInterval units.Duration `json:"scrubInterval,omitempty"`
	// ScrubBytesPerSecond paces the scrub. Default 32 MiB/s.
	ScrubBytesPerSecond int64 `json:"scrubBytesPerSecond,omitempty"`
	// SymbolConcurrency is how many symbol requests from peers are served
	// at once; more wait. Default 2.
	SymbolConcurrency int `json:"symbolConcurrency,omitempty"`
	// SymbolCacheBytes bounds the cache of extended slivers that symbol
	// requests are served from, so that peers rebuilding the same blob do
	// not each cost an extension. Default 64 MiB.
	SymbolCacheBytes int64 `json:"symbolCacheBytes,omitempty"`

	// MaxInflightBytes bounds the request bodies (slivers, proofs, symbol
	// requests) held in memory at once. A body reserves its largest
	// possible size before it is read; one that finds no room within a
	// few seconds is refused with 503 and Retry-After. Default 256 MiB.
	MaxInflightBytes int64 `json:"maxInflightBytes,omitempty"`
	// MaxConnections bounds the open connections to the API. When full, a
	// new connection closes the longest idle one, or is closed itself if
	// none is idle. Default 1024.
	MaxConnections int `json:"maxConnections,omitempty"`
	// MaxHeaderBytes bounds a request's header. Default 64 KiB.
	MaxHeaderBytes int `json:"maxHeaderBytes,omitempty"`
	// RequestTimeout is the time a request may take (headers, body and
	// answer) beyond what its size needs at MinBytesPerSecond: a body or
	// an answer that falls behind that pace is cut off. Default 10s.
	RequestTimeout units.Duration `json:"requestTimeout,omitempty"`
	// MinBytesPerSecond is the slowest pace at which a peer may send a
	// body or read an answer. Default 64 KiB/s.
	MinBytesPerSecond int64 `json:"minBytesPerSecond,omitempty"`
	// IdleTimeout closes a keep-alive connection idle this long.
	// Default 60s.
	IdleTimeout units.Duration `json:"idleTimeout,omitempty"`

	// SyncBatchBlobs and SyncBatchBytes bound one request for a gained
	// shard's pairs to its previous owner (and its answer). Defaults 256
	// blobs and 32 MiB; at most 4096 blobs and 64 MiB.
	SyncBatchBlobs int   `json:"syncBatchBlobs,omitempty"`
	SyncBatchBytes int64 `json:"syncBatchBytes,omitempty"`
	// SyncTimeout bounds one such request (plus a second per 8 MiB of
	// answer). Default 30s.
	SyncTimeout units.Duration `json:"syncTimeout,omitempty"`
	// SyncRetries is the number of failed requests in a row after which
	// the previous owner is given up and the rest of the shard is rebuilt
	// by recovery; SyncBackoff the wait after the first failure, doubled
	// after each. Defaults 3 and 1s.
	SyncRetries int            `json:"syncRetries,omitempty"`
	SyncBackoff units.Duration `json:"syncBackoff,omitempty"`

	// TestHooks is for tests only: it adds endpoints that break the node
	// on purpose (POST /v1/test/forget/{id}: delete the node's slivers of
	// a blob and never rebuild them until the process restarts, so that
	// it fails the storage challenges sampling that blob). Never set it on
	// a real node.
	// Default false.
	TestHooks bool `json:"testHooks,omitempty"`
}

// LoadConfig reads, defaults and validates a config file. Relative paths
// in it are taken relative to the file's directory.
func LoadConfig(path string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c Config
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("node: %s: %w", path, err)
	}
	base := filepath.Dir(path)
	for _, p := range []*string{&c.DataDir, &c.KeyFile} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return c.WithDefaults(), nil
}

// WithDefaults returns a copy of the configuration with every unset
// optional field at its default. It leaves c as it is.
func (c *Config) WithDefaults() *Config {
	d := *c
	setDefault(&d.MaxBodyBytes, 1<<30)
	setDefault(&d.MaxSymbolsPerRequest, 100_000)
	setDefault(&d.DiskReserveBytes, 64<<20)
	setDefault(&d.RecoveryConcurrency, 2)
	setDefault(&d.RecoveryBatchBlobs, 64)
	setDefault(&d.RecoveryBatchBytes, 64<<20)
	setDefault(&d.RecoveryDelay, units.Duration(2*time.Second))
	setDefault(&d.RecoveryTimeout, units.Duration(30*time.Second))
	setDefault(&d.ScrubInterval, units.Duration(24*time.Hour))
	setDefault(&d.ScrubBytesPerSecond, 32<<20)
	setDefault(&d.SymbolConcurrency, 2)
	setDefault(&d.SymbolCacheBytes, 64<<20)
	setDefault(&d.MaxInflightBytes, 256<<20)
	setDefault(&d.MaxConnections, 1024)
	setDefault(&d.MaxHeaderBytes, 64<<10)
	setDefault(&d.RequestTimeout, units.Duration(10*time.Second))
	setDefault(&d.MinBytesPerSecond, 64<<10)
	setDefault(&d.IdleTimeout, units.Duration(60*time.Second))
	setDefault(&d.SyncBatchBlobs, 256)
	setDefault(&d.SyncBatchBytes, 32<<20)
	setDefault(&d.SyncTimeout, units.Duration(30*time.Second))
	setDefault(&d.SyncRetries, 3)
	setDefault(&d.SyncBackoff, units.Duration(time.Second))
	return &d
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Validate checks the configuration; unset optional fields stand for
// their defaults. It does not change c.
func (c *Config) Validate() error {
	if c.Address != "" {
		if err := control.CheckNodeAddress(c.Address); err != nil {
			return fmt.Errorf("node: address: %w", err)
		}
	}
	switch {
	case c.Listen == "":
		return errors.New("node: config needs listen (host:port)")
	case c.DataDir == "":
		return errors.New("node: config needs dataDir")
	case c.KeyFile == "":
		return errors.New("node: config needs keyFile")
	case c.ControlPlane == "":
		return errors.New("node: config needs controlPlane (a validator's RPC URL)")
	case c.MaxBodyBytes < 0 || c.MaxSymbolsPerRequest < 0 || c.SymbolCacheBytes < 0 || c.MaxInflightBytes < 0 ||
		c.MaxConnections < 0 || c.MaxHeaderBytes < 0 || c.MinBytesPerSecond < 0:
		return errors.New("node: limits must be positive")
	case c.RequestTimeout < 0 || c.IdleTimeout < 0:
		return errors.New("node: requestTimeout and idleTimeout cannot be off")
	case c.RecoveryConcurrency < 0 || c.RecoveryBatchBlobs < 0 || c.RecoveryBatchBytes < 0 || c.ScrubBytesPerSecond < 0 || c.SymbolConcurrency < 0:
		return errors.New("node: recovery, scrub and symbol limits must be positive")
	case c.RecoveryDelay < 0 || c.RecoveryTimeout < 0:
		return errors.New("node: recoveryDelay and recoveryTimeout cannot be off")
	case c.SyncBatchBlobs < 0 || c.SyncBatchBlobs > migration.MaxBatchBlobs || c.SyncBatchBytes < 0 || c.SyncBatchBytes > maxSyncAnswer || c.SyncRetries < 0:
		return fmt.Errorf("node: syncBatchBlobs must be in 0..%d, syncBatchBytes in 0..%d, syncRetries positive", migration.MaxBatchBlobs, maxSyncAnswer)
	case c.SyncTimeout < 0 || c.SyncBackoff < 0:
		return errors.New("node: syncTimeout and syncBackoff cannot be off")
	}
	dd, err1 := filepath.Abs(c.DataDir)
	kf, err2 := filepath.Abs(c.KeyFile)
	if err1 == nil && err2 == nil && strings.HasPrefix(kf, dd+string(filepath.Separator)) {
		return errors.New("node: keyFile must be outside dataDir, so that a replaced disk keeps the node's identity")
	}
	return nil
}
