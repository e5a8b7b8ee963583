package mockapi

import (
	"encoding/json"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scrapebench/scrapebench/strategies/pangolin"
)

// NewCollectorForTest exposes the metrics collector of m to promlint.
func NewCollectorForTest(m *Mock) prometheus.Collector { return newCollector(m) }

// SyncAnswersForTest returns the fast and the generic sync answer of asin.
func SyncAnswersForTest(m *Mock, asin string) (fast, generic []byte) {
	j := job{asin: asin, url: "https://www.amazon.com/dp/" + asin + "?a=1&b=<2>", parser: "amzProductDetail", format: "json"}
	fast = m.syncAnswer(j, 0, "0123456789abcdef0123456789abcdef")
	generic, _ = json.Marshal(struct {
		Code    int                  `json:"code"`
		Message string               `json:"message"`
		Data    *pangolin.ScrapeData `json:"data"`
	}{0, "ok", m.scrapeData(j, 0, "0123456789abcdef0123456789abcdef", false)})
	return fast, generic
}

// CallbackBodiesForTest returns the assembled and the marshalled callback
// body of a task for asin.
func CallbackBodiesForTest(m *Mock, asin string) (fast, generic []byte) {
	t := &task{id: "0123456789abcdef0123456789abcdef", key: asin, attempt: 1,
		job: job{asin: asin, url: "https://www.amazon.com/dp/" + asin + "?x=<&>", parser: "amzProductDetail", format: "json"}}
	fast = m.callbackBody(t)
	generic = mustJSON(&pangolin.Callback{Code: 0, Message: "ok", TaskID: t.id, Data: m.scrapeData(t.job, 0, "", false)})
	return fast, generic
}
