package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// proc is one redis-server process (a data node or a sentinel) this
// package started.
type proc struct {
	addr string
	cmd  *exec.Cmd
	// exited is closed once the process has exited and been waited for.
	exited chan struct{}
}

// startTimeout bounds how long a server may take to answer its first PING.
const startTimeout = 10 * time.Second

var counter atomic.Int64

// newPrefix returns a key prefix no other caller in any test binary gets.
func newPrefix() string {
	return fmt.Sprintf("test%d-%d-%d", os.Getpid(), time.Now().UnixNano()%1e6, counter.Add(1))
}

// redisServer is the path of redis-server, or an error that says what to
// install.
func redisServer() (string, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", fmt.Errorf("no redis-server on PATH (install Debian's redis-server): %w", err)
	}
	return bin, nil
}

// freePort returns a loopback TCP port nothing listens on right now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startProc starts redis-server on a free loopback port with the
// arguments args returns for that port (the port itself is added), logging
// to dir/name-PORT.log, and waits until it answers PING. Between choosing a
// port and the server binding it another process may take it: the server
// then exits at once and startProc tries again with another port.
func startProc(dir, name string, args func(port int) ([]string, error)) (*proc, error) {
	bin, err := redisServer()
	if err != nil {
		return nil, err
	}
	var lastErr error
	for range 5 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		a, err := args(port)
		if err != nil {
			return nil, err
		}
		log := filepath.Join(dir, fmt.Sprintf("%s-%d.log", name, port))
		a = append(a, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--logfile", log)
		cmd := exec.Command(bin, a...)
		cmd.Dir = dir
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		killOnExit(cmd.Process.Pid)
		s := &proc{addr: fmt.Sprintf("127.0.0.1:%d", port), cmd: cmd, exited: make(chan struct{})}
		go func() {
			_ = cmd.Wait()
			close(s.exited)
		}()
		if lastErr = s.waitReady(); lastErr == nil {
			return s, nil
		}
		s.stop()
		lastErr = fmt.Errorf("%s on %s: %w (log: %s)", name, s.addr, lastErr, tail(log))
	}
	return nil, lastErr
}

// waitReady waits until the server answers PING or exits.
func (s *proc) waitReady() error { return waitPing(s.addr, s.exited, startTimeout) }

// errExited is waitPing's answer for a server that exited before it
// answered.
var errExited = errors.New("exited before answering")

// waitPing waits until the server on addr answers PING, it exits (exited
// is closed: errExited) or timeout passes.
func waitPing(addr string, exited <-chan struct{}, timeout time.Duration) error {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return errExited
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer within %v: %w", timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop kills the server and waits until it has gone.
func (s *proc) stop() {
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// tail returns the last lines of a log file, for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unreadable: " + err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-3):], " | ")
}

// killOnExit makes sure the process does not outlive the test binary. A
// test binary has no reliable exit hook (TestMain may call os.Exit, a test
// may panic or time out), so a small shell outlives us and kills pid once
// we are gone, if it is still running redis-server (never a process that
// took over a reused pid). It gives up as soon as the process exits.
func killOnExit(pid int) {
	watch := exec.Command("sh", "-c", fmt.Sprintf(
		"while kill -0 %[1]d 2>/dev/null && kill -0 %[2]d 2>/dev/null; do sleep 1; done; "+
			"[ \"$(cat /proc/%[2]d/comm 2>/dev/null)\" = redis-server ] && kill -9 %[2]d",
		os.Getpid(), pid))
	startWatcher(watch)
}

// removeOnExit removes dir once the test binary has exited, as killOnExit
// does for processes. The result is the shell that will: whoever removes
// dir earlier kills it.
func removeOnExit(dir string) *os.Process {
	watch := exec.Command("sh", "-c", fmt.Sprintf(
		"while kill -0 %d 2>/dev/null; do sleep 1; done; rm -rf %q", os.Getpid(), dir))
	if !startWatcher(watch) {
		return nil
	}
	return watch.Process
}

// startWatcher starts a watching shell in a process group of its own: a
// test run stopped by killing its process group (as a CI job's timeout
// may) takes the servers with it, and the watcher still cleans up after.
func startWatcher(watch *exec.Cmd) bool {
	watch.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if watch.Start() != nil {
		return false
	}
	go func() { _ = watch.Wait() }()
	return true
}

// stopAll stops procs now, removes dir and stops the shell that would have
// removed it.
func stopAll(procs []*proc, remover *os.Process, dir string) {
	for _, p := range procs {
		p.stop()
	}
	_ = os.RemoveAll(dir)
	if remover != nil {
		_ = remover.Kill()
	}
}
