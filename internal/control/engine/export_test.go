package engine

import "github.com/cockroachdb/pebble/v2"

// CorruptLastAppHashForTest flips a bit of the stored last app hash, so
// tests can check that CometBFT's replay refuses a diverged application.
func (a *App) CorruptLastAppHashForTest() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	raw, closer, err := a.db.Get([]byte("m/last"))
	if err != nil {
		return err
	}
	v := append([]byte(nil), raw...)
	closer.Close()
	v[len(v)-1] ^= 1
	return a.db.Set([]byte("m/last"), v, pebble.Sync)
}
