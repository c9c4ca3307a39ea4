package sandbox

import (
	"sync"

	"github.com/payrun/payrun/internal/bank131"
)

// idemStore remembers X-PARTNER-IDEMPOTENCY-KEY values per project. A key is
// reserved while its request runs and recorded only when the request
// succeeded (the bank acted); a failed request releases it, so the caller
// can retry with the same key. Keys never expire and are shared by all API
// methods of a project.
type idemStore struct {
	mu   sync.Mutex
	keys map[string]*idemEntry
}

type idemEntry struct {
	done   bool
	status int
	body   []byte
}

func newIdemStore() *idemStore { return &idemStore{keys: map[string]*idemEntry{}} }

// begin reserves key. If the key is known it returns the recorded entry
// (done) or an in-progress conflict.
func (s *idemStore) begin(project, key string) (*idemEntry, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := project + "\x00" + key
	if e, ok := s.keys[k]; ok {
		if e.done {
			return e, nil
		}
		return nil, newAPIError(bank131.CodeIdempotencyConflict, "a request with this idempotency key is already in progress")
	}
	s.keys[k] = &idemEntry{}
	return nil, nil
}

// finish records the answer of a successful request or releases the key.
func (s *idemStore) finish(project, key string, ok bool, status int, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := project + "\x00" + key
	if !ok {
		delete(s.keys, k)
		return
	}
	s.keys[k] = &idemEntry{done: true, status: status, body: body}
}
