package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is a redis-server of one's own, on a fixed loopback port and data
// directory, that can be stopped (cleanly or with SIGKILL), paused
// (SIGSTOP) and started again on the same port with the same data: for
// tests of what the hotline does while Redis is away, and for the fault
// suite (bench/faults). The shared server of URL and New is never stopped.
type Server struct {
	// Addr is host:port; URL is "redis://Addr/0"; Dir holds the data
	// files and redis.log.
	Addr, URL, Dir string
	// Args are redis-server's options beyond port, bind, dir and logfile.
	Args []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	paused bool
	owned  bool // Dir was made by Start and is removed by Close
}

// ServerOptions says how to run a Server.
type ServerOptions struct {
	// Dir is the data directory; empty makes a temporary one, removed by
	// Close.
	Dir string
	// AppendFsync turns the append-only file on with this fsync policy
	// ("always", "everysec"); empty runs without persistence, so a
	// restarted server starts empty.
	AppendFsync string
}

// StartServer starts a redis-server on a free loopback port and waits
// until it answers. Close stops it for good.
func StartServer(o ServerOptions) (*Server, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, fmt.Errorf("redistest: no redis-server on PATH (install Debian's redis-server): %w", err)
	}
	var err error
	s := &Server{Dir: o.Dir, Args: []string{"--save", ""}}
	if s.Dir == "" {
		if s.Dir, err = os.MkdirTemp("", "redistest-server"); err != nil {
			return nil, err
		}
		s.owned = true
	}
	if o.AppendFsync != "" {
		s.Args = append(s.Args, "--appendonly", "yes", "--appendfsync", o.AppendFsync)
	} else {
		s.Args = append(s.Args, "--appendonly", "no")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.Addr = l.Addr().String()
	l.Close()
	s.URL = "redis://" + s.Addr + "/0"
	if err := s.Start(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// MustStartServer is StartServer for a test: the server is closed when
// the test ends.
func MustStartServer(tb testing.TB, o ServerOptions) *Server {
	tb.Helper()
	s, err := StartServer(o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// Start starts the server again after Stop or Kill, on the same port and
// directory, and waits until it answers (it has loaded its data by then).
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("redistest: the server is running")
	}
	_, port, _ := net.SplitHostPort(s.Addr)
	args := append([]string{"--port", port, "--bind", "127.0.0.1", "--dir", s.Dir,
		"--logfile", filepath.Join(s.Dir, "redis.log")}, s.Args...)
	cmd := exec.Command("redis-server", args...)
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd, s.exited, s.paused = cmd, make(chan struct{}), false
	go func(exited chan struct{}) { _ = cmd.Wait(); close(exited) }(s.exited)
	watchParent(cmd.Process.Pid)
	switch err := waitPing(s.Addr, s.exited, 20*time.Second); {
	case errors.Is(err, errExited):
		return fmt.Errorf("redistest: redis-server on %s exited at start (see %s)", s.Addr, filepath.Join(s.Dir, "redis.log"))
	case err != nil:
		return fmt.Errorf("redistest: redis-server on %s did not answer: %w", s.Addr, err)
	}
	return nil
}

// Stop shuts the server down cleanly (SHUTDOWN: the append-only file is
// flushed and fsynced first) and waits for it to exit.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	if s.paused {
		_ = s.cmd.Process.Signal(syscall.SIGCONT)
	}
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// SHUTDOWN answers nothing when it succeeds: the connection closes.
	_ = c.Shutdown(ctx).Err()
	return s.waitLocked(15 * time.Second)
}

// Kill ends the server with SIGKILL, as a crash or the OOM killer would:
// what was not yet on disk is lost (nothing, with AppendFsync "always").
func (s *Server) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	_ = s.cmd.Process.Kill()
	return s.waitLocked(10 * time.Second)
}

func (s *Server) waitLocked(limit time.Duration) error {
	select {
	case <-s.exited:
	case <-time.After(limit):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd, s.paused = nil, false
	return nil
}

// Pause stops the server's process (SIGSTOP): connections stay open but
// nothing answers, as with a server stuck on a slow disk or swapping.
// Resume lets it go on.
func (s *Server) Pause() error { return s.signal(syscall.SIGSTOP, true) }

// Resume continues a paused server (SIGCONT).
func (s *Server) Resume() error { return s.signal(syscall.SIGCONT, false) }

func (s *Server) signal(sig syscall.Signal, paused bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return errors.New("redistest: the server is not running")
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		return err
	}
	s.paused = paused
	return nil
}

// Pid is the running server's process id (0 when stopped).
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Close kills the server and removes a directory Start made.
func (s *Server) Close() error {
	err := s.Kill()
	if s.owned {
		err = errors.Join(err, os.RemoveAll(s.Dir))
	}
	return err
}

// watchParent kills the server pid once this process has exited, however
// it ends (a test binary that panics or calls os.Exit runs no cleanup): a
// small shell outlives us, as for the shared server. It gives up as soon
// as the server is gone, and kills only a process still named
// redis-server, never one that took over a reused pid.
func watchParent(pid int) {
	watch := exec.Command("sh", "-c", fmt.Sprintf(
		"while kill -0 %[1]d 2>/dev/null && kill -0 %[2]d 2>/dev/null; do sleep 1; done; "+
			"if [ \"$(cat /proc/%[2]d/comm 2>/dev/null)\" = redis-server ]; then kill -CONT %[2]d; kill -9 %[2]d; fi",
		os.Getpid(), pid))
	if watch.Start() == nil {
		go func() { _ = watch.Wait() }()
	}
}
