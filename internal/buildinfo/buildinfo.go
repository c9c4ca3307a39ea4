// Package buildinfo is what a payrun binary knows of its own build: the
// module version and the version-control revision the Go toolchain stamped
// into it (runtime/debug.ReadBuildInfo). Every command's --version prints
// it and the payrun_build_info metric carries it.
package buildinfo

import (
	"runtime/debug"
	"strings"
)

// Info describes a build.
type Info struct {
	Path      string // the main module's path
	Version   string // its version: a tag, a pseudo-version, or (devel)
	Revision  string // vcs.revision; empty when not built from a checkout
	Time      string // vcs.time (RFC 3339); empty when unknown
	Modified  bool   // vcs.modified: the checkout had uncommitted changes
	GoVersion string // the toolchain that built it
}

// Read returns the running binary's build information. A binary built
// without module support (never the case for payrun's) reports "unknown".
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Version: "unknown"}
	}
	return fromBuildInfo(bi)
}

func fromBuildInfo(bi *debug.BuildInfo) Info {
	info := Info{Path: bi.Main.Path, Version: bi.Main.Version, GoVersion: bi.GoVersion}
	if info.Version == "" {
		info.Version = "(devel)"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.time":
			info.Time = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}

// String is the one line --version prints after the command's name:
// "v1.2.3 (revision 0123abcd…, 2026-11-30T10:00:00Z, modified) go1.26.8".
func (i Info) String() string {
	var b strings.Builder
	b.WriteString(i.Version)
	var details []string
	if i.Revision != "" {
		details = append(details, "revision "+i.Revision)
	}
	if i.Time != "" {
		details = append(details, i.Time)
	}
	if i.Modified {
		details = append(details, "modified")
	}
	if len(details) > 0 {
		b.WriteString(" (" + strings.Join(details, ", ") + ")")
	}
	if i.GoVersion != "" {
		b.WriteString(" " + i.GoVersion)
	}
	return b.String()
}
