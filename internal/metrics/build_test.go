package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/buildinfo"
)

func TestBuildInfo(t *testing.T) {
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, err := io.ReadAll(rec.Body)
	require.NoError(t, err)
	b := buildinfo.Read()
	var line string
	for l := range strings.SplitSeq(string(body), "\n") {
		if strings.HasPrefix(l, "payrun_build_info{") {
			line = l
		}
	}
	require.NotEmpty(t, line, "payrun_build_info is exported")
	require.Contains(t, line, `goversion="`+b.GoVersion+`"`)
	require.Contains(t, line, `version="`+b.Version+`"`)
	require.True(t, strings.HasSuffix(line, "} 1"), line)
}
