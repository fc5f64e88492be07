package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// replica is one `hotline serve` process on a fixed loopback address and
// data directory (its phone journal lives there), so that a restart after
// SIGKILL comes back where clients and the journal expect it.
type replica struct {
	n       int // 1-based, for people
	addr    string
	dataDir string
	args    []string
	logPath string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	starts int
}

func newReplica(n int, bin, cfg, dir string) (*replica, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	r := &replica{n: n, addr: addr, dataDir: filepath.Join(dir, fmt.Sprintf("replica-%d", n)),
		logPath: filepath.Join(dir, fmt.Sprintf("replica-%d.log", n))}
	r.args = []string{bin, "serve", "--config", cfg, "--addr", addr, "--data", r.dataDir}
	return r, nil
}

func (r *replica) url() string { return "http://" + r.addr }

// start runs the process and waits until it answers /healthz.
func (r *replica) start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		return fmt.Errorf("replica %d is running", r.n)
	}
	logf, err := os.OpenFile(r.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	fmt.Fprintf(logf, "---- start %d at %s\n", r.starts+1, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(r.args[0], r.args[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	r.cmd, r.exited = cmd, make(chan struct{})
	r.starts++
	go func(exited chan struct{}) { _ = cmd.Wait(); logf.Close(); close(exited) }(r.exited)
	deadline := time.Now().Add(60 * time.Second)
	c := &http.Client{Timeout: time.Second}
	for {
		if resp, err := c.Get(r.url() + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-r.exited:
			r.cmd = nil
			return fmt.Errorf("replica %d exited at start (see %s)", r.n, r.logPath)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("replica %d did not answer /healthz within a minute (see %s)", r.n, r.logPath)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill ends the process with SIGKILL: no graceful shutdown, requests cut
// off in the middle, the journal's open segment left as it is.
func (r *replica) kill() { r.end(syscall.SIGKILL, 5*time.Second) }

// stop ends the process gracefully (SIGTERM), as at the end of the run.
func (r *replica) stop() { r.end(syscall.SIGTERM, 30*time.Second) }

func (r *replica) end(sig syscall.Signal, wait time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Signal(sig)
	select {
	case <-r.exited:
	case <-time.After(wait):
		_ = r.cmd.Process.Kill()
		<-r.exited
	}
	r.cmd = nil
}

// up reports whether the process runs.
func (r *replica) up() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cmd != nil
}

// balancer is the public URL Twilio would call: a round-robin proxy over
// the replicas that tries the next one when a replica does not answer. The
// fake Twilio API inside each replica sends its status callbacks here.
type balancer struct {
	replicas []*replica
	next     atomic.Uint64
	srv      *http.Server
	addr     string
	client   *http.Client
}

func startBalancer(replicas []*replica) (*balancer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &balancer{replicas: replicas, addr: ln.Addr().String(), client: &http.Client{Timeout: 20 * time.Second}}
	b.srv = &http.Server{Handler: b, ReadHeaderTimeout: 10 * time.Second}
	go b.srv.Serve(ln)
	return b, nil
}

func (b *balancer) url() string { return "http://" + b.addr }

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	start := b.next.Add(1)
	for i := range b.replicas {
		rep := b.replicas[(int(start)+i)%len(b.replicas)]
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, rep.url()+r.URL.RequestURI(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := b.client.Do(req)
		if err != nil {
			continue
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
		resp.Body.Close()
		return
	}
	http.Error(w, "no replica answers", http.StatusBadGateway)
}

func (b *balancer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = b.srv.Shutdown(ctx)
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
