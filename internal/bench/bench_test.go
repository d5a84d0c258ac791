package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestParseAndFormatSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"0", 0}, {"1024", 1024}, {"1KiB", 1 << 10}, {"64MiB", 64 << 20}, {"2GiB", 2 << 30}, {"10MB", 10e6}, {"5 B", 5}, {"256mib", 256 << 20},
	} {
		if got, err := ParseSize(tc.in); err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "-1", "1.5MiB", "MiB", "1TiB", "99999999999GiB"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1 KiB", 1536: "1.5 KiB", 64 << 20: "64 MiB", 1 << 30: "1 GiB"} {
		if got := FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestEncodeTable runs the smallest encode benchmark and checks the row
// it prints is consistent with what it measured.
func TestEncodeTable(t *testing.T) {
	var out bytes.Buffer
	res, err := Encode(&out, EncodeConfig{Shards: []int{10}, Sizes: []int64{4096}, MinTime: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 {
		t.Fatalf("%d results", len(res))
	}
	r := res[0]
	if r.Encode <= 0 || r.Floor <= 0 || r.DecodeSys <= 0 || r.DecodeParity <= 0 || r.Recover <= 0 {
		t.Fatalf("missing measurements: %+v", r)
	}
	// n = 10: s = 4096/28 rounded up to even = 148; ks + kp = 11 symbols
	// per pair rebuilt, 10 × 11 symbols stored.
	if r.RecoverBytes != 11*148 || r.EncodedSize != 10*11*148 {
		t.Fatalf("recover bytes %d, encoded %d", r.RecoverBytes, r.EncodedSize)
	}
	if !strings.Contains(out.String(), "    10     4 KiB |") {
		t.Fatalf("table row missing:\n%s", out.String())
	}
}
