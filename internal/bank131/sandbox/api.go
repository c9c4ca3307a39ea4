package sandbox

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/payrun/payrun/internal/bank131"
)

// maxBody caps a request body.
const maxBody = 1 << 20

// call is one authenticated API request.
type call struct {
	project     *Project
	version     string // v1, v2 or v1.1
	method      string // e.g. session/start/payout
	body        []byte // exactly as received (and verified)
	baseURL     string // the sandbox's address as the caller reached it
	submerchant string // X-PARTNER-SUBMERCHANT, if sent
}

type apiHandler func(c *call) ([]byte, *apiError)

type route struct {
	handler  apiHandler
	versions []string
}

// api maps method paths to handlers and the API versions that serve them.
func (s *Server) api() map[string]route {
	session := []string{"v1", "v2"}
	return map[string]route{
		"session/create":                 {s.handleCreate, session},
		"session/start/payout":           {s.handleStart, session},
		"session/init/payout":            {s.handleInit, session},
		"session/confirm":                {s.handleConfirm, session},
		"session/cancel":                 {s.handleCancel, session},
		"session/status":                 {s.handleStatus, session},
		"token":                          {s.handleToken, []string{"v1"}},
		"token/info":                     {s.handleTokenInfo, []string{"v1"}},
		"bpa/calculate":                  {s.handleCalculate, []string{"v1"}},
		"bpa/session/multi/init/payment": {s.handleMultiInit, []string{s.cfg.Modes.BPAVersion}},
		"wallet/balance":                 {s.handleWalletBalance, []string{"v1"}},
	}
}

// serveAPI answers /api/<version>/<method>: rate limit, faults, signature,
// idempotency, then the method itself.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	version, method, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/api/"), "/")
	rt, ok := s.table[method]
	if !ok || !contains(rt.versions, version) {
		s.writeError(w, &apiError{status: http.StatusNotFound, code: bank131.CodeInvalidRequest, desc: "unknown API method " + r.URL.Path})
		return
	}
	if r.Method != http.MethodPost {
		s.writeError(w, &apiError{status: http.StatusMethodNotAllowed, code: bank131.CodeInvalidRequest, desc: "use POST"})
		return
	}
	if s.faults.throttled() {
		w.Header().Set("Retry-After", "1")
		s.writeError(w, newAPIError(bank131.CodeTooManyRequests, "request rate limit exceeded"))
		return
	}
	latency := s.faults.latency()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		s.writeError(w, invalid("cannot read the request body: %v", err))
		return
	}
	if s.faults.roll(shareServerErrors) {
		s.sleep(r, latency)
		s.log.Info("fault: 5xx answer, request not processed", "method", method)
		if s.faults.badGateway() {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, "<html><body><h1>502 Bad Gateway</h1></body></html>\n")
			return
		}
		s.writeError(w, &apiError{status: http.StatusInternalServerError, code: bank131.CodeInternal, desc: "internal error (injected)"})
		return
	}

	if s.faults.roll(shareLost) {
		s.sleep(r, latency)
		s.log.Info("fault: request lost, not processed, connection closed", "method", method)
		hangUp(w)
		return
	}

	project, aerr := s.authenticate(r, body)
	if aerr != nil {
		s.log.Warn("security: request rejected", "event", "bad_request_signature", "method", method,
			"project", r.Header.Get(bank131.HeaderProject), "code", aerr.code)
		s.writeError(w, aerr)
		return
	}
	c := &call{project: project, version: version, method: method, body: body, baseURL: s.baseURL(r),
		submerchant: strings.TrimSpace(r.Header.Get(bank131.HeaderSubmerchant))}
	s.noteSubmerchant(c.submerchant)
	if c.submerchant == "" && s.cfg.Modes.Submerchant == modeRequired {
		s.writeError(w, newAPIError(bank131.CodeAuthorization, "X-PARTNER-SUBMERCHANT is required for this partner"))
		return
	}

	status, answer := s.run(c, rt.handler, r.Header.Get(bank131.HeaderIdempotency))
	if s.log.Enabled(r.Context(), slog.LevelDebug) {
		s.log.Debug("api call", "project", project.Name, "method", r.URL.Path, "http_status", status)
	}
	s.sleep(r, latency)
	if s.faults.roll(shareDrops) {
		s.log.Info("fault: processed, connection dropped", "method", method)
		hangUp(w)
		return
	}
	writeJSON(w, status, answer)
}

// hangUp closes the connection without an answer.
func hangUp(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler) // HTTP/2 or a recorder: abort the answer
}

// authenticate finds the project and verifies X-PARTNER-SIGN over the raw
// body before anything parses it.
func (s *Server) authenticate(r *http.Request, body []byte) (*Project, *apiError) {
	name := r.Header.Get(bank131.HeaderProject)
	p, ok := s.projects[name]
	if !ok {
		return nil, newAPIError(s.cfg.UnknownProjectCode, "unknown project %q", name)
	}
	if err := bank131.VerifySignature(p.PublicKey, body, r.Header.Get(bank131.HeaderSign)); err != nil {
		return nil, newAPIError(bank131.CodeAuthentication, "X-PARTNER-SIGN does not verify")
	}
	return p, nil
}

func (s *Server) baseURL(r *http.Request) string {
	if u := s.URL(); u != "" {
		return u
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Server) sleep(r *http.Request, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

func (s *Server) writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, s.statusOf(e), e.body())
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// decode reads a request body into v; bad JSON is invalid_request. The
// PHP SDK sends parameterless bodies as [], which counts as {}.
func decode(body []byte, v any) *apiError {
	b := bytes.TrimSpace(body)
	if bytes.Equal(b, []byte("[]")) {
		b = []byte("{}")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return invalid("request body is not valid for this method: %v", err)
	}
	return nil
}
