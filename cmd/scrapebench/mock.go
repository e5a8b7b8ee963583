package main

import (
	"context"
	"fmt"
	"time"

	"github.com/scrapebench/scrapebench/bench"
	"github.com/scrapebench/scrapebench/mockapi"
)

const mockSynopsis = `mock [flags]

Serves the mock Pangolinfo Scrape API until SIGINT or SIGTERM:
  POST /api/v1/auth, /api/v1/scrape, /api/v1/scrape/async
  GET  /__admin/stats (JSON counters), /__admin/config, /metrics (Prometheus), /healthz
  POST /__admin/round {"round":N} (serve the products of round N)
The first line on stdout is "listening on <base URL>". Durations are API time;
defaults shown are the seed profile's, and an explicit flag beats --profile.`

func runMock(ctx context.Context, args []string, e *env) error {
	fs := newFlagSet("mock", mockSynopsis, e)
	addr := fs.String("addr", "127.0.0.1:8787", "address to listen on; port 0 picks a free one")
	world := bench.AddWorldFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	api, wall, err := world.Config()
	if err != nil {
		return usageError{err}
	}
	srv, err := mockapi.Start(*addr, wall)
	if err != nil {
		return usageError{err}
	}
	fmt.Fprintf(e.stdout, "listening on %s\n", srv.URL)
	fmt.Fprintf(e.stdout, "profile %s, time scale %g, seed %d, latency %s (API time)\n",
		world.Profile.Value, float64(world.Scale), api.Seed, api.Latency)
	<-ctx.Done()
	fmt.Fprintln(e.stdout, "shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
