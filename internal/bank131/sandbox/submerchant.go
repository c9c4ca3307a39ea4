package sandbox

import (
	"maps"
	"net/http"
)

// X-PARTNER-SUBMERCHANT: "mandatory for non-resident financial
// institutions" (DOC-format); the SDK sends it on every request when it is
// configured (AuthenticateMiddleware.php). The sandbox records it on every
// authenticated call (Submerchants, and per session in PayoutInfo) and,
// with Modes.Submerchant required, refuses a call without it.

// noteSubmerchant counts an authenticated call by its header value.
func (s *Server) noteSubmerchant(v string) {
	s.mu.Lock()
	s.submerchant[v]++
	s.mu.Unlock()
}

// noteCall records a call's header on the session it concerns. Caller
// holds s.mu.
func (s *Server) noteCall(sess *session, c *call) {
	if c.submerchant == "" {
		sess.noSubmerchant++
		return
	}
	sess.submerchant = c.submerchant
}

// Submerchants counts the authenticated API calls by their
// X-PARTNER-SUBMERCHANT value ("" for calls without the header).
func (s *Server) Submerchants() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.submerchant)
}

func (s *Server) serveSubmerchants(w http.ResponseWriter, _ *http.Request) {
	b, err := marshal(struct {
		Calls map[string]int `json:"calls"`
	}{s.Submerchants()})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, b)
}
