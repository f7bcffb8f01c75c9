package mtablock

import (
	"strings"
	"testing"
)

func TestKillResultSummary(t *testing.T) {
	reset := KillResult{Reset: []int{10, 11}}
	if reset.Ended() != 2 || reset.ThrottleNote() != "" {
		t.Errorf("reset only: ended %d, note %q", reset.Ended(), reset.ThrottleNote())
	}
	mixed := KillResult{Reset: []int{10}, Terminated: []int{11}, Killed: []int{12}}
	if got, want := mixed.Summary(), "3 (connection reset 1, SIGTERM 1, SIGKILL 1)"; got != want {
		t.Errorf("Summary = %q, want %q", got, want)
	}
	if !strings.Contains(mixed.ThrottleNote(), "service_throttle_time") {
		t.Errorf("a signalled session gives no throttle note: %q", mixed.ThrottleNote())
	}
}
