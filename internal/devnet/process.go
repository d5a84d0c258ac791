package devnet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// spawner starts the devnet's child processes from one goroutine locked to
// its OS thread. On Linux each child gets Pdeathsig = SIGKILL (see
// childAttr), so it dies with the devnet even on kill -9. The kernel sends
// that signal when the *thread* that forked the child exits, not the
// process, and the Go runtime may retire an idle thread at any time: so
// every child is started from this one locked thread, which lives until
// close, after the children were stopped.
type spawner struct {
	reqs chan spawnReq
	done chan struct{}
}

type spawnReq struct {
	cmd   *exec.Cmd
	reply chan error
}

func newSpawner() *spawner {
	s := &spawner{reqs: make(chan spawnReq), done: make(chan struct{})}
	go func() {
		// Never unlocked: when this goroutine returns the thread exits,
		// which kills any child still running (Pdeathsig).
		runtime.LockOSThread()
		defer close(s.done)
		for r := range s.reqs {
			r.reply <- r.cmd.Start()
		}
	}()
	return s
}

func (s *spawner) start(cmd *exec.Cmd) error {
	cmd.SysProcAttr = childAttr()
	reply := make(chan error, 1)
	s.reqs <- spawnReq{cmd, reply}
	return <-reply
}

// close ends the spawner's thread. Call it after the children stopped.
func (s *spawner) close() {
	close(s.reqs)
	<-s.done
}

// child is a process the devnet started and waits for.
type child struct {
	name   string
	log    string
	cmd    *exec.Cmd
	exited chan struct{} // closed once the process exited and was reaped
}

// startChild starts exe args as name, logging to logPath.
func startChild(s *spawner, name, logPath, exe string, args ...string) (*child, error) {
	lf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer lf.Close()
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := s.start(cmd); err != nil {
		return nil, fmt.Errorf("devnet: starting %s: %w", name, err)
	}
	c := &child{name: name, log: logPath, cmd: cmd, exited: make(chan struct{})}
	go func() { cmd.Wait(); close(c.exited) }()
	return c, nil
}

// exitError describes how a child exited, with the end of its log.
func (c *child) exitError() error {
	return fmt.Errorf("devnet: %s exited (%v) before it was ready; the end of %s:\n%s", c.name, c.cmd.ProcessState, c.log, tail(c.log, 2048))
}

// stop sends SIGTERM and waits up to d, then kills.
func (c *child) stop(d time.Duration) {
	select {
	case <-c.exited:
		return
	default:
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(d):
		c.cmd.Process.Kill()
		<-c.exited
	}
}

func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		f.Seek(st.Size()-n, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// checkPortFree fails when something already listens on addr: a node or
// gateway started there could not bind it, and readiness would then be
// answered by whatever holds the port.
func checkPortFree(name, addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("devnet: %s's address %s is in use by another process (%v); stop it or use another --dir", name, addr, err)
	}
	return l.Close()
}

// staleProcess is a process left running by an earlier devnet of the
// same directory: a node or gateway whose command line names one of its
// config files.
type staleProcess struct {
	pid  int
	name string
}

// findStale scans /proc for processes other than this one whose command
// line is `... node|gateway ... --config PATH` with PATH a key of configs
// (absolute path → name). Where /proc does not exist it finds nothing.
func findStale(configs map[string]string) []staleProcess {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []staleProcess
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(raw) == 0 || !alive(pid) {
			continue
		}
		args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
		if name, ok := configArg(args, configs); ok {
			out = append(out, staleProcess{pid, name})
		}
	}
	return out
}

// configArg reports whether args run a node or gateway with one of the
// config files.
func configArg(args []string, configs map[string]string) (string, bool) {
	if len(args) < 2 || (args[1] != "node" && args[1] != "gateway") {
		return "", false
	}
	for i, a := range args {
		var path string
		switch {
		case a == "--config" && i+1 < len(args):
			path = args[i+1]
		case strings.HasPrefix(a, "--config="):
			path = strings.TrimPrefix(a, "--config=")
		default:
			continue
		}
		if name, ok := configs[filepath.Clean(path)]; ok {
			return name, true
		}
	}
	return "", false
}

// alive reports whether pid runs and is not a zombie waiting to be reaped.
func alive(pid int) bool {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	// The state follows the parenthesised command name.
	if i := bytes.LastIndexByte(raw, ')'); i >= 0 && i+2 < len(raw) {
		return raw[i+2] != 'Z' && raw[i+2] != 'X'
	}
	return true
}

// stopStale stops a stale process: SIGTERM, then SIGKILL after d.
func stopStale(p staleProcess, d time.Duration) error {
	if err := syscall.Kill(p.pid, syscall.SIGTERM); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return nil
		}
		return fmt.Errorf("devnet: stopping stale %s (PID %d): %w", p.name, p.pid, err)
	}
	deadline := time.Now().Add(d)
	for alive(p.pid) {
		if time.Now().After(deadline) {
			syscall.Kill(p.pid, syscall.SIGKILL)
			deadline = time.Now().Add(d)
			for alive(p.pid) {
				if time.Now().After(deadline) {
					return fmt.Errorf("devnet: stale %s (PID %d) does not die", p.name, p.pid)
				}
				time.Sleep(20 * time.Millisecond)
			}
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}
