package cli

import (
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
)

// ProfileFlag is --cpuprofile: a CPU profile of a long-running command from
// its start until it stops, for measuring (bench/payoutbench -profiles).
type ProfileFlag struct {
	Path string
}

// Register adds the flag to fs.
func (p *ProfileFlag) Register(fs *flag.FlagSet) {
	fs.StringVar(&p.Path, "cpuprofile", "", "write a CPU profile of this process to `file` from its start until it stops (for measuring)")
}

// Start starts the profile, if asked for; stop ends it and closes the file.
func (p *ProfileFlag) Start() (stop func(), err error) {
	if p.Path == "" {
		return func() {}, nil
	}
	f, err := os.Create(p.Path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
