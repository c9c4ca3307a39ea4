package ingest

import (
	"net"
	"net/http"
	"sync"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
)

// slots counts the uploads being served, in all and per uploader.
type slots struct {
	mu       sync.Mutex
	max, per int
	total    int
	byKey    map[string]int
}

func newSlots(max, per int) *slots {
	return &slots{max: max, per: per, byKey: map[string]int{}}
}

// take takes a slot for key, or answers too_many; release gives it back.
func (s *slots) take(key string) (release func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byKey[key] >= s.per {
		return nil, ledgerapi.Errorf(ledgerapi.CodeTooMany, "%d uploads of yours are being served; try again when one has finished", s.per)
	}
	if s.total >= s.max {
		return nil, ledgerapi.Errorf(ledgerapi.CodeTooMany, "%d uploads are being served; try again in a moment", s.max)
	}
	s.total++
	s.byKey[key]++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.total--
			if s.byKey[key]--; s.byKey[key] == 0 {
				delete(s.byKey, key)
			}
		})
	}, nil
}

// inUse is the number of slots taken.
func (s *slots) inUse() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// remoteIP is the default upload key: the client's IP address.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
