package sandbox

import (
	"crypto/sha256"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/payrun/payrun/internal/bank131"
)

// idemStore remembers X-PARTNER-IDEMPOTENCY-KEY values. The bank documents
// only that a repeated key is answered idempotency_key_already_exists (the
// SDK's ExceptionsHandlerMiddleware and ExceptionApiTest, HTTP 400); the
// rest is Modes: what a key whose first request failed does
// (IdempotencyFailed), the namespace (IdempotencyScope), the lifetime
// (IdempotencyTTL), a different body under a known key (IdempotencyBody),
// the key syntax (IdempotencyFormat) and a repeat while the first runs
// (IdempotencyInFlight). The defaults are the sandbox's old semantics: a
// failed request releases its key, keys live for ever, one namespace per
// project, the body is not compared.
type idemStore struct {
	mu   sync.Mutex
	keys map[string]*idemEntry
}

type idemEntry struct {
	done   bool          // the first request ended
	failed bool          // … with an error answer (kept by IdempotencyFailed keep/keep-replay)
	status int           // its answer
	body   []byte        // …
	sum    [32]byte      // SHA-256 of the first request's body
	at     time.Time     // when the first request arrived
	ready  chan struct{} // closed when the first request ended
}

func newIdemStore() *idemStore { return &idemStore{keys: map[string]*idemEntry{}} }

// begin reserves k for a request with body. It returns the entry and
// whether it is new (the caller runs the request and calls finish). An
// entry older than ttl (if positive) is forgotten first.
func (s *idemStore) begin(k string, body []byte, now time.Time, ttl time.Duration) (*idemEntry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.keys[k]; ok {
		if ttl <= 0 || now.Sub(e.at) < ttl || !e.done {
			return e, false
		}
		delete(s.keys, k)
	}
	e := &idemEntry{sum: sha256.Sum256(body), at: now, ready: make(chan struct{})}
	s.keys[k] = e
	return e, true
}

// finish records the first request's answer; release forgets the key
// instead (a failed request in IdempotencyFailed release mode).
func (s *idemStore) finish(k string, e *idemEntry, failed, release bool, status int, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if release {
		delete(s.keys, k)
	} else {
		e.done, e.failed, e.status, e.body = true, failed, status, body
	}
	close(e.ready)
}

var (
	shortKey = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	uuidKey  = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

// idemKey checks the key's syntax and returns its namespaced form.
func (s *Server) idemKey(c *call, key string) (string, *apiError) {
	m := s.cfg.Modes
	switch {
	case m.IdempotencyFormat == modeShort && !shortKey.MatchString(key):
		return "", invalid("X-PARTNER-IDEMPOTENCY-KEY must be at most 64 characters of A-Z, a-z, 0-9, _ and -")
	case m.IdempotencyFormat == modeUUID && !uuidKey.MatchString(key):
		return "", invalid("X-PARTNER-IDEMPOTENCY-KEY must be a UUID")
	}
	switch m.IdempotencyScope {
	case modeMethod:
		return c.project.Name + "\x00" + c.method + "\x00" + key, nil
	case modePartner:
		return key, nil
	}
	return c.project.Name + "\x00" + key, nil
}

func keyExists(format string) *apiError {
	return newAPIError(bank131.CodeIdempotencyConflict, "%s", format)
}

// run calls the handler under the idempotency key, if any.
func (s *Server) run(c *call, h apiHandler, key string) (int, []byte) {
	if key == "" {
		body, aerr := h(c)
		if aerr != nil {
			return s.statusOf(aerr), aerr.body()
		}
		return http.StatusOK, body
	}
	k, aerr := s.idemKey(c, key)
	if aerr != nil {
		return s.statusOf(aerr), aerr.body()
	}
	m := s.cfg.Modes
	for {
		e, fresh := s.idem.begin(k, c.body, s.now(), m.IdempotencyTTL)
		if fresh {
			body, aerr := h(c)
			if aerr != nil {
				status, answer := s.statusOf(aerr), aerr.body()
				s.idem.finish(k, e, true, m.IdempotencyFailed == modeRelease, status, answer)
				return status, answer
			}
			s.idem.finish(k, e, false, false, http.StatusOK, body)
			return http.StatusOK, body
		}
		select {
		case <-e.ready:
		default:
			if m.IdempotencyInFlight == modeWait {
				<-e.ready
				continue // released (or done): look again
			}
			ke := keyExists("a request with this idempotency key is already in progress")
			return s.statusOf(ke), ke.body()
		}
		if !e.done { // written before ready was closed
			continue // released after a failure: look again
		}
		if e.sum != sha256.Sum256(c.body) {
			switch m.IdempotencyBody {
			case modeConflict:
				ke := keyExists("this idempotency key was used with another request body")
				return s.statusOf(ke), ke.body()
			case modeInvalid:
				ie := invalid("this idempotency key was used with another request body")
				return s.statusOf(ie), ie.body()
			}
		}
		switch {
		case e.failed && m.IdempotencyFailed == modeKeepReplay:
			return e.status, e.body
		case !e.failed && s.cfg.IdempotencyReplay:
			return e.status, e.body
		}
		ke := keyExists("already in progress or processed")
		return s.statusOf(ke), ke.body()
	}
}
