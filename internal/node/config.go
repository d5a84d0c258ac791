package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Config is a storage node's configuration file (JSON). Example:
//
//	{
//	  "name": "node-0",
//	  "listen": "127.0.0.1:9100",
//	  "dataDir": "/var/lib/weft/node-0",
//	  "keyFile": "/etc/weft/node-0.key",
//	  "controlPlane": "http://127.0.0.1:26657",
//	  "maxBodyBytes": 1073741824,
//	  "maxSymbolsPerRequest": 100000,
//	  "diskReserveBytes": 67108864
//	}
//
// The key file holds the node's Ed25519 identity (PEM, created on first
// start if missing). It must live outside dataDir, so that a replaced disk
// keeps the node's identity.
type Config struct {
	Name string `json:"name"`
	// Listen is the host:port the HTTP API binds to.
	Listen string `json:"listen"`
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
	// DiskReserveBytes is the free space below which uploads are refused
	// (507). Default 64 MiB.
	DiskReserveBytes uint64 `json:"diskReserveBytes,omitempty"`
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
	return &c, nil
}

// Validate fills in defaults and checks the configuration.
func (c *Config) Validate() error {
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 1 << 30
	}
	if c.MaxSymbolsPerRequest == 0 {
		c.MaxSymbolsPerRequest = 100_000
	}
	if c.DiskReserveBytes == 0 {
		c.DiskReserveBytes = 64 << 20
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
	case c.MaxBodyBytes < 0 || c.MaxSymbolsPerRequest < 0:
		return errors.New("node: limits must be positive")
	}
	dd, err1 := filepath.Abs(c.DataDir)
	kf, err2 := filepath.Abs(c.KeyFile)
	if err1 == nil && err2 == nil && strings.HasPrefix(kf, dd+string(filepath.Separator)) {
		return errors.New("node: keyFile must be outside dataDir, so that a replaced disk keeps the node's identity")
	}
	return nil
}
