package ingest

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHandlerErrorMasksCardNumbers: an error answer that names what the
// request sent shows card numbers masked, in groupings (no-break spaces,
// dots) the old log masker let through and that %q would write as \u00a0.
func TestHandlerErrorMasksCardNumbers(t *testing.T) {
	srv, e, _ := newTestServer(t, 0)
	data, err := os.ReadFile(samplePath)
	require.NoError(t, err)
	for name, want := range map[string]string{
		"note 4242\u00a04242\u00a04242\u00a04242": `form field "note 424242******4242" is too long`,
		"card 4111.1111.1111.1111 refused":        `form field "card 411111******1111 refused" is too long`,
	} {
		body, ct := multipartBody(t, "payroll.csv", data, map[string]string{name: strings.Repeat("x", maxField+1)})
		status, out := post(t, srv.URL+"/batches", ct, body)
		require.Equal(t, http.StatusBadRequest, status, out)
		require.Equal(t, want, out["error"].(map[string]any)["message"])
	}
	require.Empty(t, streamMsgs(t, e.js))
}
