package mockapi

import (
	"fmt"

	"github.com/scrapebench/scrapebench/strategies/pangolin"
)

// Fault names one kind of seeded fault, or one seeded draw of the mock
// (latency, error code, envelope variant, duplicate gap).
type Fault uint64

// The faults of the plan. Each has a rate in FaultRates.
const (
	FaultDuplicate Fault = iota + 1 // the callback is delivered again later
	FaultLoss                       // the callback is never delivered
	FaultDelay                      // the callback comes Delay late
	FaultEarly                      // the callback is delivered before the submit answer
	FaultError                      // sync or submit answers an error code
	FaultReset                      // the connection is reset before the answer
	FaultTruncate                   // the answer body is cut short
	FaultSlowBody                   // the answer body trickles over SlowBody
	FaultVariant                    // the answer uses the alternative envelope variant

	drawLatency     // sample of Latency
	drawSubmit      // sample of SubmitLatency
	drawErrorCode   // which of ErrorCodes
	drawDupGap      // when the duplicate is sent
	drawTaskID      // task id, first half
	drawTaskIDSalt2 // task id, second half
)

var faultNames = map[Fault]string{
	FaultDuplicate: "duplicate", FaultLoss: "loss", FaultDelay: "delay", FaultEarly: "early",
	FaultError: "error", FaultReset: "reset", FaultTruncate: "truncate", FaultSlowBody: "slow-body",
	FaultVariant: "variant",
}

func (f Fault) String() string {
	if n, ok := faultNames[f]; ok {
		return n
	}
	return fmt.Sprintf("draw(%d)", uint64(f))
}

// FaultRates holds the probability of each fault, per job attempt.
type FaultRates struct {
	Duplicate float64 `json:"duplicate"`
	Loss      float64 `json:"loss"`
	Delay     float64 `json:"delay"`
	Early     float64 `json:"early"`
	Error     float64 `json:"error"`
	Reset     float64 `json:"reset"`
	Truncate  float64 `json:"truncate"`
	SlowBody  float64 `json:"slow_body"`
	Variant   float64 `json:"variant"`
}

func (r FaultRates) rate(f Fault) float64 {
	switch f {
	case FaultDuplicate:
		return r.Duplicate
	case FaultLoss:
		return r.Loss
	case FaultDelay:
		return r.Delay
	case FaultEarly:
		return r.Early
	case FaultError:
		return r.Error
	case FaultReset:
		return r.Reset
	case FaultTruncate:
		return r.Truncate
	case FaultSlowBody:
		return r.SlowBody
	case FaultVariant:
		return r.Variant
	}
	return 0
}

func (r FaultRates) validate() error {
	for f := FaultDuplicate; f <= FaultVariant; f++ {
		if v := r.rate(f); !(v >= 0 && v <= 1) {
			return fmt.Errorf("%s rate %v: want a probability from 0 to 1", f, v)
		}
	}
	return nil
}

// Plan is the seeded fault plan: whether job X's attempt k meets fault F is
// a pure function of (seed, X, k, F), so two servers with the same seed and
// rates meet every strategy with the same faults.
type Plan struct {
	Seed  uint64
	Rates FaultRates
}

// Hit reports whether the attempt-th attempt (1-based) of job meets f.
func (p Plan) Hit(job string, attempt int, f Fault) bool {
	r := p.Rates.rate(f)
	return r > 0 && p.U(job, attempt, f) < r
}

// U returns the uniform number in [0,1) drawn for (job, attempt, f).
func (p Plan) U(job string, attempt int, f Fault) float64 {
	return unit(p.Hash(job, attempt, f))
}

// Hash returns the 64-bit draw for (job, attempt, f).
func (p Plan) Hash(job string, attempt int, f Fault) uint64 {
	return mix(p.Seed, job, uint64(attempt), uint64(f))
}

// ErrorCode returns the code an error fault answers with for (job, attempt).
func (p Plan) ErrorCode(codes []pangolin.Code, job string, attempt int) pangolin.Code {
	if len(codes) == 0 {
		return pangolin.CodeCrawlFailed
	}
	return codes[p.Hash(job, attempt, drawErrorCode)%uint64(len(codes))]
}

// mix hashes (seed, key, a, b) with FNV-1a over the key and splitmix64
// finalisers; stable across runs, platforms and Go versions.
func mix(seed uint64, key string, a, b uint64) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= 1099511628211
	}
	h = splitmix(h ^ splitmix(seed))
	h = splitmix(h ^ a*0x9e3779b97f4a7c15)
	return splitmix(h ^ b*0xc2b2ae3d27d4eb4f)
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// unit maps a hash to [0,1) with 53 bits of precision.
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }
