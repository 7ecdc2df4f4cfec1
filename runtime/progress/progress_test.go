package progress

import (
	"strings"
	"testing"
	"time"
)

// Off a terminal the bar prints one line at each tenth of the work.
func TestLinesOffTerminal(t *testing.T) {
	var b strings.Builder
	bar := &Bar{W: &b, Label: "epoch 1/1", Total: 100, Unit: "img", start: time.Now().Add(-10 * time.Second)}
	for range 20 {
		bar.Add(5, "loss 0.5")
	}
	bar.Done("")
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 10 {
		t.Fatalf("%d lines, want 10:\n%s", len(lines), b.String())
	}
	last := lines[len(lines)-1]
	for _, want := range []string{"epoch 1/1", "100%", "100/100 img", "img/s", "ETA 0:00", "loss 0.5"} {
		if !strings.Contains(last, want) {
			t.Errorf("last line %q lacks %q", last, want)
		}
	}
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		59 * time.Second:                "0:59",
		61 * time.Second:                "1:01",
		3*time.Hour + 2*time.Minute + 1: "3:02:00",
	} {
		if got := fmtDur(d); got != want {
			t.Errorf("fmtDur(%v) = %q, want %q", d, got, want)
		}
	}
}
