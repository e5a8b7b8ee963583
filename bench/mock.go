package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/scrapebench/scrapebench/mockapi"
)

// Mock modes.
const (
	MockProcess   = "process"   // a `scrapebench mock` child: its CPU is not the client's
	MockInProcess = "inprocess" // in this process: simpler, but CPU figures include the mock
)

// mockHandle is a running mock.
type mockHandle interface {
	URL() string
	Stats(ctx context.Context) (mockapi.Stats, error)
	// Close stops the mock and returns the CPU seconds it used, when known.
	Close() (cpuSeconds float64, err error)
}

// startMock starts a mock of world (API time) at time scale scale.
func startMock(ctx context.Context, mode, exe string, world mockapi.Config, scale float64) (mockHandle, error) {
	if mode == MockInProcess {
		srv, err := mockapi.Start("127.0.0.1:0", world.Scaled(scale))
		if err != nil {
			return nil, err
		}
		return inProcess{srv}, nil
	}
	return startMockProcess(ctx, exe, world, scale)
}

type inProcess struct{ srv *mockapi.Server }

func (m inProcess) URL() string { return m.srv.URL }
func (m inProcess) Stats(context.Context) (mockapi.Stats, error) {
	return m.srv.Mock.Stats(), nil
}
func (m inProcess) Close() (float64, error) { return 0, m.srv.Close() }

type mockProcess struct {
	url    string
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	file   string
	done   chan error
}

// startMockProcess runs `exe mock` on a free loopback port with the world
// in a temporary file and waits for its "listening on" line.
func startMockProcess(ctx context.Context, exe string, world mockapi.Config, scale float64) (*mockProcess, error) {
	f, err := os.CreateTemp("", "scrapebench-world-*.json")
	if err != nil {
		return nil, fmt.Errorf("mock: %w", err)
	}
	if err := json.NewEncoder(f).Encode(world); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("mock: write world: %w", err)
	}
	f.Close()
	cmd := exec.Command(exe, "mock", "--addr", "127.0.0.1:0", "--world-file", f.Name(),
		"--time-scale", strconv.FormatFloat(scale, 'g', -1, 64),
		"--token", world.Token, "--callback-token", world.CallbackToken)
	// If the harness dies (kill -9), the kernel ends its mock too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	m := &mockProcess{cmd: cmd, stderr: &bytes.Buffer{}, file: f.Name(), done: make(chan error, 1)}
	cmd.Stderr = m.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		os.Remove(f.Name())
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		os.Remove(f.Name())
		return nil, fmt.Errorf("start mock %s: %w", exe, err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		first := true
		for sc.Scan() {
			if first {
				lines <- sc.Text()
				first = false
			}
		}
		close(lines)
		m.done <- cmd.Wait()
	}()
	select {
	case line, ok := <-lines:
		if ok && strings.HasPrefix(line, "listening on ") {
			m.url = strings.TrimPrefix(line, "listening on ")
			return m, nil
		}
		_, _ = m.Close()
		return nil, fmt.Errorf("mock did not start: %q %s", line, strings.TrimSpace(m.stderr.String()))
	case <-time.After(15 * time.Second):
		_, _ = m.Close()
		return nil, errors.New("mock did not say where it listens within 15s")
	case <-ctx.Done():
		_, _ = m.Close()
		return nil, ctx.Err()
	}
}

func (m *mockProcess) URL() string { return m.url }

func (m *mockProcess) Stats(ctx context.Context) (mockapi.Stats, error) {
	var st mockapi.Stats
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, m.url+"/__admin/stats", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, fmt.Errorf("mock stats: %w", err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("mock stats: %w", err)
	}
	return st, nil
}

// Close sends SIGTERM, waits up to 5 s, then kills.
func (m *mockProcess) Close() (float64, error) {
	defer os.Remove(m.file)
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	var err error
	select {
	case err = <-m.done:
	case <-time.After(5 * time.Second):
		_ = m.cmd.Process.Kill()
		err = <-m.done
	}
	cpu := 0.0
	if ps := m.cmd.ProcessState; ps != nil {
		cpu = (ps.UserTime() + ps.SystemTime()).Seconds()
	}
	if err != nil && m.url != "" {
		return cpu, fmt.Errorf("mock exited: %w: %s", err, strings.TrimSpace(m.stderr.String()))
	}
	return cpu, nil
}
