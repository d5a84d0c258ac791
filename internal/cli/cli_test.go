package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weftnet/weft/redstuff"
)

func run(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(args, Streams{In: strings.NewReader(stdin), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

func TestBlobID(t *testing.T) {
	data := bytes.Repeat([]byte("weft "), 20000)
	path := filepath.Join(t.TempDir(), "blob")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	codec, err := redstuff.New(100)
	if err != nil {
		t.Fatal(err)
	}
	want, err := codec.BlobID(data)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs := run(t, "", "blob-id", "--shards", "100", path)
	if code != 0 || out != want.String()+"\n" || errs != "" {
		t.Fatalf("blob-id FILE: code %d, out %q, err %q; want %s", code, out, errs, want)
	}
	code, out, _ = run(t, string(data), "blob-id", "--shards", "100", "-")
	if code != 0 || out != want.String()+"\n" {
		t.Fatalf("blob-id -: code %d, out %q", code, out)
	}
	// An empty file has an ID too.
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, nil, 0o600)
	if code, out, _ := run(t, "", "blob-id", "--shards", "4", empty); code != 0 || len(strings.TrimSpace(out)) != 43 {
		t.Fatalf("empty file: code %d, out %q", code, out)
	}
}

func TestErrorsAreOneLineWithExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"blob-id", "x"}, 2, "needs --shards"},
		{[]string{"blob-id", "--shards", "3", "x"}, 2, "shard count out of range"},
		{[]string{"blob-id", "--shards", "10"}, 2, "takes 1 argument"},
		{[]string{"blob-id", "--shards", "10", "/nonexistent/file"}, 1, "no such file"},
		{[]string{"blob-id", "--bogus"}, 2, "unknown flag"},
		{[]string{"bench", "encode", "--size", "12XB"}, 2, "bad size"},
		{[]string{"validator", "init"}, 2, "needs --dir"},
		{[]string{"validator", "start", "--home", "/nonexistent"}, 1, "validator init"},
		{[]string{"nonsense"}, 1, "unknown command"},
	} {
		code, out, errs := run(t, "", tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.msg) || strings.Count(strings.TrimSpace(errs), "\n") != 0 || out != "" {
			t.Errorf("weft %s: code %d, stderr %q, stdout %q; want code %d and %q on one line", strings.Join(tc.args, " "), code, errs, out, tc.code, tc.msg)
		}
	}
}

func TestProgressBar(t *testing.T) {
	var buf bytes.Buffer
	if b := newBar(&buf, "x", 100<<20); b != nil {
		t.Fatal("a bar was made for a non-terminal writer")
	}
	b := &bar{w: &buf, label: "storing"}
	b.update(50, 100)
	b.update(100, 100)
	b.done()
	out := buf.String()
	if !strings.Contains(out, "storing [###############...............]  50%") || !strings.Contains(out, "100%") || !strings.HasSuffix(out, "\n") {
		t.Fatalf("bar output %q", out)
	}
	var nilBar *bar
	nilBar.update(1, 2) // draws nothing, does not panic
	nilBar.done()
	if nilBar.callback() != nil {
		t.Fatal("nil bar has a callback")
	}
}

// TestDashBlobID: a blob ID that begins with '-' is an argument, not a
// flag, wherever it stands.
func TestDashBlobID(t *testing.T) {
	id := "-" + strings.Repeat("A", 42)
	for _, tc := range []struct{ in, want []string }{
		{[]string{"read", id, "-o", "x"}, []string{"read", "-o", "x", "--", id}},
		{[]string{"status", "--json", id}, []string{"status", "--json", "--", id}},
		{[]string{"read", id, "--", "y"}, []string{"read", "--", id, "y"}},
		{[]string{"read", "-o", "x"}, []string{"read", "-o", "x"}},
		{[]string{"store", "-", "--json"}, []string{"store", "-", "--json"}},
	} {
		if got := escapeBlobIDs(tc.in); strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%q: got %q, want %q", tc.in, got, tc.want)
		}
	}
	// The command sees the ID: it fails on the missing config, not on a flag.
	_, _, errs := run(t, "", "status", id, "--config", filepath.Join(t.TempDir(), "none.json"))
	if strings.Contains(errs, "unknown shorthand flag") {
		t.Fatalf("the ID was taken for a flag: %s", errs)
	}
}
