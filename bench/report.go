package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/scrapebench/scrapebench/mockapi"
)

// Version is scrapebench's version.
const Version = "0.1.0"

// Manifest says what produced a report, so that results can be compared
// with the machine and settings beside them.
type Manifest struct {
	Tool       string          `json:"tool"`
	Version    string          `json:"version"`
	GitCommit  string          `json:"git_commit"`
	GoVersion  string          `json:"go_version"`
	GOMAXPROCS int             `json:"gomaxprocs"`
	NumCPU     int             `json:"num_cpu"`
	CPU        string          `json:"cpu"`
	OS         string          `json:"os"`
	Arch       string          `json:"arch"`
	TimeScale  float64         `json:"time_scale"` // the scenario's; each run carries its own
	Seed       uint64          `json:"seed"`
	Scenario   string          `json:"scenario"`
	Profile    string          `json:"profile"`
	Endpoint   string          `json:"endpoint"` // "mock" or the real API's base URL
	Mock       string          `json:"mock,omitempty"`
	Durability string          `json:"durability"`
	Jobs       int             `json:"jobs"`
	Repeat     int             `json:"repeat"`
	Started    string          `json:"started"`
	World      *mockapi.Config `json:"world,omitempty"` // API time; tokens are never written
	Settings   Settings        `json:"settings"`
}

// RunResult is one run of one strategy.
type RunResult struct {
	Strategy   string  `json:"strategy"`
	Repetition int     `json:"repetition"`
	TimeScale  float64 `json:"time_scale"`
	Jobs       int     `json:"jobs"`

	CompletionAPIs    float64      `json:"completion_api_s"`
	CompletionWallS   float64      `json:"completion_wall_s"`
	ModelAPIs         float64      `json:"model_api_s"`
	ModelBasis        string       `json:"model_basis"`
	ModelRatio        float64      `json:"model_ratio"` // measured / model
	ThroughputAPIPerS float64      `json:"throughput_api_per_s"`
	LatencyAPIms      Percentiles  `json:"latency_api_ms"`              // per job: first request (sync) or submit (async) → stored
	LatencyCDF        []CDFPoint   `json:"latency_cdf,omitempty"`       // the same, at percentiles 1..99, 99.9, 100
	RequestAPIms      *Percentiles `json:"request_api_ms,omitempty"`    // one sync call
	SubmitAckAPIms    *Percentiles `json:"submit_ack_api_ms,omitempty"` // one submit call

	Credits         float64          `json:"credits"`                  // the client's count
	LedgerCredits   *float64         `json:"ledger_credits,omitempty"` // the mock's ledger
	Requests        int64            `json:"requests"`
	Retries         int64            `json:"retries"`
	Codes           map[string]int64 `json:"codes"`
	TransportErrors int64            `json:"transport_errors"`

	Stored                int64 `json:"stored"`
	Expected              int   `json:"expected"`
	Failed                int64 `json:"failed"`
	DuplicatesSuppressed  int64 `json:"duplicates_suppressed"`
	CallbacksReceived     int64 `json:"callbacks_received"`
	CallbacksLost         int64 `json:"callbacks_lost"`
	Compensated           int64 `json:"compensated"`
	LateAfterCompensation int64 `json:"late_after_compensation"`
	Unknown               int64 `json:"unknown"`
	Changed               int64 `json:"changed"`
	IntegrityErrors       int64 `json:"integrity_errors"`

	Missing    []string `json:"missing,omitempty"` // the first 20 jobs with no result
	Wrong      []string `json:"wrong,omitempty"`   // the first 20 jobs whose result is not the ground truth
	Complete   bool     `json:"complete"`
	Aborted    string   `json:"aborted,omitempty"`
	Durability string   `json:"durability"`

	ClientCPUs    float64 `json:"client_cpu_s"`
	MockCPUs      float64 `json:"mock_cpu_s"`
	PeakRSSBytes  int64   `json:"peak_rss_bytes"`
	TimerLagP99ms float64 `json:"timer_lag_p99_ms"` // wall: how late the harness's 10 ms ticker fired

	Warnings []string `json:"warnings,omitempty"`
}

// Report is what scrapebench run writes.
type Report struct {
	Manifest Manifest    `json:"manifest"`
	Runs     []RunResult `json:"runs"`
}

// ReadReport reads a JSON report.
func ReadReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s is not a scrapebench JSON report: %w", path, err)
	}
	if r.Manifest.Tool != "scrapebench" {
		return nil, fmt.Errorf("%s is not a scrapebench JSON report (no manifest.tool)", path)
	}
	return &r, nil
}

// Incomplete returns a line per run that lost, duplicated or corrupted
// results, naming the jobs; empty when every run is complete and correct.
func (r *Report) Incomplete() []string {
	var out []string
	for _, run := range r.Runs {
		if run.Complete {
			continue
		}
		line := fmt.Sprintf("%s (repetition %d): stored %d of %d", run.Strategy, run.Repetition, run.Stored, run.Expected)
		if run.IntegrityErrors > 0 {
			line += fmt.Sprintf(", %d integrity errors", run.IntegrityErrors)
		}
		if len(run.Missing) > 0 {
			line += "; missing " + strings.Join(run.Missing, " ")
		}
		if len(run.Wrong) > 0 {
			line += "; wrong " + strings.Join(run.Wrong, " ")
		}
		if run.Aborted != "" {
			line += "; aborted: " + run.Aborted
		}
		out = append(out, line)
	}
	return out
}

func newManifest(sc *Scenario, world *mockapi.Config, endpoint, mock string, jobs int) Manifest {
	m := Manifest{Tool: "scrapebench", Version: Version, GitCommit: gitCommit(), GoVersion: runtime.Version(),
		GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU(), CPU: cpuModel(), OS: runtime.GOOS, Arch: runtime.GOARCH,
		TimeScale: sc.TimeScale, Seed: sc.Seed, Scenario: sc.Name, Profile: sc.Profile, Endpoint: endpoint, Mock: mock,
		Durability: sc.Durability, Jobs: jobs, Repeat: sc.Repeat, Started: time.Now().UTC().Format(time.RFC3339), Settings: sc.Settings}
	if world != nil {
		w := *world
		m.World = &w
		m.Seed = w.Seed
	}
	return m
}

// gitCommit returns the commit the binary was built from, or of the
// working directory's checkout, or "unknown".
func gitCommit() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	if out, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil {
		commit := strings.TrimSpace(string(out))
		if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
			commit += "-dirty" // the binary may hold changes the commit does not
		}
		return commit
	}
	return "unknown"
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
