package mockapi

import "github.com/prometheus/client_golang/prometheus"

// NewCollectorForTest exposes the metrics collector of m to promlint.
func NewCollectorForTest(m *Mock) prometheus.Collector { return newCollector(m) }
