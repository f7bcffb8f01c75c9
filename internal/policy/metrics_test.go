package policy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestMetricsBoundedLabels sends hostile and ordinary requests and checks
// that no label value comes from the client and the series count is fixed.
func TestMetricsBoundedLabels(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := testServer(testConfig(), nil)
	s.Metrics = NewMetrics(reg)
	s.Engine.metrics = s.Metrics
	addr := startServer(t, s)
	count := func() int {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, mf := range mfs {
			n += len(mf.GetMetric())
		}
		return n
	}
	before := count()
	c := dialPolicy(t, addr)
	for i := 0; i < 50; i++ {
		r := rcpt(fmt.Sprintf("evil%d\"}{x=\"@lab.test", i), fmt.Sprint(i), "x@e.test")
		r.ProtocolState = fmt.Sprintf("STATE%d", i)
		c.ask(r)
		c.ask(rcpt("a@lab.test", fmt.Sprint("a", i), "x@e.test"))
	}
	if after := count(); after != before {
		t.Fatalf("series grew from %d to %d", before, after)
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if strings.Contains(lp.GetValue(), "evil") || strings.HasPrefix(lp.GetValue(), "STATE") {
					t.Fatalf("%s has a client-supplied label value %q", mf.GetName(), lp.GetValue())
				}
			}
		}
	}
	if got := testutilCount(s.Metrics.request("other", Dunno)); got != 50 {
		t.Fatalf("requests{stage=other,action=DUNNO} = %v; want 50", got)
	}
	if got := testutilCount(s.Metrics.ruleHits.WithLabelValues(RuleMessagesPerMinute)); got == 0 {
		t.Fatal("rule hits not counted")
	}
}
