// Package progress draws a progress line for long work on a terminal:
// done/total, items per second and the time left.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Bar reports progress of one piece of work to W. On a terminal it
// redraws one line at most every 200ms; elsewhere (logs, CI) it prints a
// line at every tenth of the work.
type Bar struct {
	W     io.Writer
	Label string
	Total int
	Unit  string // e.g. "img"

	start    time.Time
	last     time.Time
	done     int
	tty      bool
	lastTick int
}

// New starts a bar on stderr.
func New(label string, total int, unit string) *Bar {
	b := &Bar{W: os.Stderr, Label: label, Total: total, Unit: unit, start: time.Now()}
	if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		b.tty = true
	}
	return b
}

// Add records n more items done and maybe redraws; extra is appended to
// the line (e.g. "loss 0.31").
func (b *Bar) Add(n int, extra string) {
	b.done += n
	now := time.Now()
	if b.tty {
		if now.Sub(b.last) < 200*time.Millisecond && b.done < b.Total {
			return
		}
		b.last = now
		fmt.Fprintf(b.W, "\r%s\x1b[K", b.line(now, extra))
		return
	}
	tick := 10 * b.done / max(b.Total, 1)
	if tick > b.lastTick {
		b.lastTick = tick
		fmt.Fprintln(b.W, b.line(now, extra))
	}
}

// Done ends the bar's line.
func (b *Bar) Done(extra string) {
	if b.tty {
		fmt.Fprintf(b.W, "\r%s\x1b[K\n", b.line(time.Now(), extra))
	} else if b.lastTick < 10 {
		fmt.Fprintln(b.W, b.line(time.Now(), extra))
	}
}

// Rate is items per second so far.
func (b *Bar) Rate() float64 {
	el := time.Since(b.start).Seconds()
	if el <= 0 {
		return 0
	}
	return float64(b.done) / el
}

func (b *Bar) line(now time.Time, extra string) string {
	frac := float64(b.done) / float64(max(b.Total, 1))
	const width = 24
	fill := int(frac * width)
	bar := strings.Repeat("=", fill) + strings.Repeat(" ", width-fill)
	el := now.Sub(b.start)
	rate := float64(b.done) / max(el.Seconds(), 1e-9)
	eta := "?"
	if rate > 0 {
		eta = fmtDur(time.Duration(float64(b.Total-b.done) / rate * float64(time.Second)))
	}
	s := fmt.Sprintf("%s [%s] %3.0f%% %d/%d %s  %.1f %s/s  elapsed %s  ETA %s",
		b.Label, bar, 100*frac, b.done, b.Total, b.Unit, rate, b.Unit, fmtDur(el), eta)
	if extra != "" {
		s += "  " + extra
	}
	return s
}

func fmtDur(d time.Duration) string {
	s := int(d.Round(time.Second).Seconds())
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
