package node

import "testing"

// TestRuntimeMetrics: besides its own series, a node exports the Go
// runtime's and the process's, which operators' dashboards read.
func TestRuntimeMetrics(t *testing.T) {
	families, err := newMetrics().reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, f := range families {
		have[f.GetName()] = true
	}
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "go_gc_duration_seconds",
		"process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds", "weft_node_bytes_in_total"} {
		if !have[name] {
			t.Errorf("no %s among the exported metrics", name)
		}
	}
}
