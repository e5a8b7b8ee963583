package mockapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Server is a Mock listening on a TCP address.
type Server struct {
	Mock *Mock
	// URL is the base URL of the API, such as http://127.0.0.1:8787.
	URL  string
	srv  *http.Server
	ln   net.Listener
	done chan error
}

// Start listens on addr (such as 127.0.0.1:0 for a free port) and serves a
// new Mock configured by cfg until Shutdown or Close.
func Start(addr string, cfg Config) (*Server, error) {
	m, err := New(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("listen on %s: %w (choose another --addr)", addr, err)
	}
	s := &Server{
		Mock: m,
		URL:  "http://" + ln.Addr().String(),
		srv:  &http.Server{Handler: m, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute},
		ln:   ln,
		done: make(chan error, 1),
	}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// Shutdown stops accepting requests, waits for those in flight until ctx
// ends, then stops the mock's callbacks and tasks.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	if serveErr := <-s.done; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = serveErr
	}
	s.Mock.Close()
	return err
}

// Close shuts the server down, waiting at most 5 s for requests in flight.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.Shutdown(ctx)
}
