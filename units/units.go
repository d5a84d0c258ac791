// Package units holds the value types Weft's JSON configuration files
// share: the SDK's client config, the storage node's and the validator's.
package units

import (
	"fmt"
	"time"
)

// Duration is a time.Duration written in JSON as a Go duration string
// ("50ms", "2s", "24h"). "off" is Off, a negative duration, which turns a
// periodic task off where a field says it may; other negative durations
// are refused.
type Duration time.Duration

// Off is the Duration that turns a periodic task off.
const Off = Duration(-1)

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) {
	if d < 0 {
		return []byte("off"), nil
	}
	return []byte(time.Duration(d).String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	if string(b) == "off" {
		*d = Off
		return nil
	}
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("units: %q is not a duration (like \"2s\" or \"24h\")", b)
	}
	if v < 0 {
		return fmt.Errorf("units: negative duration %q (\"off\" turns a task off)", b)
	}
	*d = Duration(v)
	return nil
}
