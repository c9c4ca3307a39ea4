package console

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInternalErrorLogsAreMasked: the console's logs of an internal error
// (the page, the live update, the upload) pass the card masker, both the
// error's text (it may wrap a bank's message) and the path (typed).
func TestInternalErrorLogsAreMasked(t *testing.T) {
	const pan, spaced = "4111111111111111", "4111 1111 1111 1111"
	var out bytes.Buffer
	c := &Console{log: slog.New(slog.NewTextHandler(&out, nil))}
	err := fmt.Errorf("read batch: the bank said card %s is closed: %w", spaced, errors.New("boom"))
	for name, call := range map[string]func(w http.ResponseWriter, r *http.Request){
		"fail":   func(w http.ResponseWriter, r *http.Request) { c.fail(w, r, &view{L: Russian}, err) },
		"live":   func(w http.ResponseWriter, r *http.Request) { httpErrorFragment(w, r, c, err) },
		"upload": func(w http.ResponseWriter, r *http.Request) { c.uploadFail(w, r, &view{L: English}, err) },
		"template": func(w http.ResponseWriter, r *http.Request) {
			c.render(w, r, http.StatusOK, "missing "+pan, &view{L: English})
		},
	} {
		out.Reset()
		w := httptest.NewRecorder()
		call(w, httptest.NewRequest(http.MethodGet, "/console/batches/"+pan+"/x"+pan, nil))
		logged := out.String()
		require.NotEmpty(t, logged, name)
		require.Equal(t, http.StatusInternalServerError, w.Code, name)
		for _, leak := range []string{pan, spaced} {
			require.NotContains(t, logged, leak, name)
		}
		require.True(t, strings.Contains(logged, "411111******1111"), "%s: %s", name, logged)
	}
}
