package buildinfo

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFromBuildInfo(t *testing.T) {
	tests := []struct {
		name string
		bi   debug.BuildInfo
		want Info
		text string
	}{
		{"tagged, from a clean checkout",
			debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/payrun/payrun", Version: "v1.2.3"},
				Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "0123abcd"},
					{Key: "vcs.time", Value: "2026-11-30T10:00:00Z"}, {Key: "vcs.modified", Value: "false"}}},
			Info{Path: "github.com/payrun/payrun", Version: "v1.2.3", Revision: "0123abcd", Time: "2026-11-30T10:00:00Z", GoVersion: "go1.26.8"},
			"v1.2.3 (revision 0123abcd, 2026-11-30T10:00:00Z) go1.26.8"},
		{"modified checkout",
			debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/payrun/payrun", Version: "v0.0.0-20261130100000-0123abcd+dirty"},
				Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.modified", Value: "true"}}},
			Info{Path: "github.com/payrun/payrun", Version: "v0.0.0-20261130100000-0123abcd+dirty", Revision: "0123abcd", Modified: true, GoVersion: "go1.26.8"},
			"v0.0.0-20261130100000-0123abcd+dirty (revision 0123abcd, modified) go1.26.8"},
		{"no version control, no version",
			debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/payrun/payrun"}},
			Info{Path: "github.com/payrun/payrun", Version: "(devel)", GoVersion: "go1.26.8"},
			"(devel) go1.26.8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fromBuildInfo(&tt.bi)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.text, got.String())
		})
	}
}

func TestRead(t *testing.T) {
	// A test binary has build information: the module's path is known.
	info := Read()
	require.Equal(t, "github.com/payrun/payrun", info.Path)
	require.NotEmpty(t, info.Version)
	require.NotEmpty(t, info.GoVersion)
}
