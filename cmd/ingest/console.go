package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/payrun/payrun/internal/ingest"
)

// minBarSize is the smallest file that gets a progress bar.
const minBarSize = 1 << 20

// console writes error lines and, on a terminal, a progress bar on stderr
// without the two getting in each other's way.
type console struct {
	mu      sync.Mutex
	w       io.Writer
	bar     bool // progress bar allowed
	shown   bool // a bar is on the screen
	started map[string]time.Time
}

func newConsole(w io.Writer, mode string) *console {
	bar := mode == "always"
	if mode == "auto" {
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			bar = true
		}
	}
	return &console{w: w, bar: bar, started: map[string]time.Time{}}
}

// line prints a line, above the bar.
func (c *console) line(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.erase()
	fmt.Fprintln(c.w, s)
}

// clear removes the bar.
func (c *console) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.erase()
}

func (c *console) erase() {
	if c.shown {
		fmt.Fprint(c.w, "\r\033[K")
		c.shown = false
	}
}

// progress draws "validate [#####-----]  42%  420000 rows  350000 rows/s  ETA 2s".
func (c *console) progress(p ingest.Progress) {
	if !c.bar || p.Total < minBarSize {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	start, ok := c.started[p.Phase]
	if !ok {
		start = time.Now()
		c.started[p.Phase] = start
	}
	if p.Done {
		c.erase()
		return
	}
	frac := float64(p.Bytes) / float64(p.Total)
	frac = min(max(frac, 0), 1)
	const width = 30
	filled := int(frac * width)
	elapsed := time.Since(start).Seconds()
	rate, eta := 0.0, "?"
	if elapsed > 0 {
		rate = float64(p.Rows) / elapsed
		if frac > 0 {
			eta = (time.Duration(elapsed * (1 - frac) / frac * float64(time.Second))).Round(time.Second).String()
		}
	}
	fmt.Fprintf(c.w, "\r\033[K%-8s [%s%s] %3.0f%%  %d rows  %.0f rows/s  ETA %s",
		p.Phase, strings.Repeat("#", filled), strings.Repeat("-", width-filled), frac*100, p.Rows, rate, eta)
	c.shown = true
}
