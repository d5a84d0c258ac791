package units_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/weftnet/weft/units"
)

func TestDuration(t *testing.T) {
	type cfg struct {
		D units.Duration `json:"d"`
	}
	for _, c := range []struct {
		in   string
		want units.Duration
		out  string
	}{
		{`{"d":"50ms"}`, units.Duration(50 * time.Millisecond), `{"d":"50ms"}`},
		{`{"d":"24h"}`, units.Duration(24 * time.Hour), `{"d":"24h0m0s"}`},
		{`{"d":"off"}`, units.Off, `{"d":"off"}`},
		{`{"d":"0s"}`, 0, `{"d":"0s"}`},
	} {
		var v cfg
		if err := json.Unmarshal([]byte(c.in), &v); err != nil || v.D != c.want {
			t.Fatalf("%s: %v, %v; want %v", c.in, v.D, err, c.want)
		}
		if out, err := json.Marshal(v); err != nil || string(out) != c.out {
			t.Fatalf("%s written back as %s, %v; want %s", c.in, out, err, c.out)
		}
	}
	for _, bad := range []string{`{"d":"-1s"}`, `{"d":"soon"}`, `{"d":"10"}`, `{"d":""}`} {
		var v cfg
		if err := json.Unmarshal([]byte(bad), &v); err == nil {
			t.Fatalf("%s accepted as %v", bad, v.D)
		}
	}
}
