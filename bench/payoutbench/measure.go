// Measuring the processes of -run procs: CPU and memory from /proc, the
// signing yardstick, the metrics scraped.

package main

// The "procs" run: payrun as an operator runs it from the README, every
// component its own process on loopback (nats-server with JetStream,
// `ledger run`, one or more `processor`s, `hookrelay`, the
// `bank131-sandbox` binary, then `ingest` of a generated file), measured
// from /proc: each process's CPU seconds and peak RSS, and the RSA signing
// CPU per payout measured on one core of the same machine in the same run.

import (
	"bufio"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/payrun/payrun/internal/bank131"
)

// procStat is a process's CPU seconds (utime + stime) and peak RSS.
type procStat struct {
	cpu   float64
	hwmMB float64
}

// clockTicks is USER_HZ, 100 on Linux.
const clockTicks = 100

func readStat(pid int) (procStat, error) {
	var st procStat
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return st, err
	}
	// Fields after the command's ")": state is field 3, utime 14, stime 15.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return st, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	stt, _ := strconv.ParseFloat(f[12], 64)
	st.cpu = (ut + stt) / clockTicks
	sf, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return st, err
	}
	defer sf.Close()
	sc := bufio.NewScanner(sf)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			st.hwmMB = kb / 1024
		}
	}
	return st, sc.Err()
}

// threadCPU is the calling thread's CPU seconds (RUSAGE_THREAD).
func threadCPU() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(1, &ru) // RUSAGE_THREAD
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// signCPU is the CPU seconds one RSA-2048 signature (PKCS#1 v1.5,
// SHA-256, what bank131.Sign does for us and the sandbox) takes with each
// key, on one locked thread: n signatures each.
func signCPU(keys string, n int) (ours, bank float64, err error) {
	partner, err := bank131.ReadPrivateKey(filepath.Join(keys, "partner_private.pem"))
	if err != nil {
		return 0, 0, err
	}
	bankKey, err := bank131.ReadPrivateKey(filepath.Join(keys, "bank_private.pem"))
	if err != nil {
		return 0, 0, err
	}
	body := []byte(`{"session_id":"ps_123456789","amount_details":{"amount":10000,"currency":"rub"},"payment_method":{"type":"card","card":{"type":"bank_card","bank_card":{"token":"tok_00000001"}}}}`)
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		for _, k := range []struct {
			key *rsa.PrivateKey
			out *float64
		}{{partner, &ours}, {bankKey, &bank}} {
			bank131.Sign(k.key, body) // warm
			t0 := threadCPU()
			for i := 0; i < n; i++ {
				if _, err2 := bank131.Sign(k.key, body); err2 != nil {
					err = err2
					return
				}
			}
			*k.out = (threadCPU() - t0) / float64(n)
		}
	}()
	<-done
	return ours, bank, err
}

// signSampler measures the signing CPU during the run, under the run's own
// contention: every second, a few signatures with each key on one locked
// thread (about 1 % of a core).
type signSampler struct {
	stop       chan struct{}
	done       chan struct{}
	ours, bank float64 // CPU seconds per signature
	n          int     // signatures with each key
}

func startSignSampler(keys string) (*signSampler, error) {
	partner, err := bank131.ReadPrivateKey(filepath.Join(keys, "partner_private.pem"))
	if err != nil {
		return nil, err
	}
	bankKey, err := bank131.ReadPrivateKey(filepath.Join(keys, "bank_private.pem"))
	if err != nil {
		return nil, err
	}
	body := []byte(`{"session_id":"ps_123456789","amount_details":{"amount":10000,"currency":"rub"}}`)
	s := &signSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var ours, bank float64
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				if s.n > 0 {
					s.ours, s.bank = ours/float64(s.n), bank/float64(s.n)
				}
				return
			case <-tick.C:
			}
			const k = 3
			t0 := threadCPU()
			for i := 0; i < k; i++ {
				bank131.Sign(partner, body)
			}
			t1 := threadCPU()
			for i := 0; i < k; i++ {
				bank131.Sign(bankKey, body)
			}
			ours, bank = ours+t1-t0, bank+threadCPU()-t1
			s.n += k
		}
	}()
	return s, nil
}

// end stops the sampler and returns the CPU seconds per signature.
func (s *signSampler) end() (ours, bank float64, n int) {
	close(s.stop)
	<-s.done
	return s.ours, s.bank, s.n
}

// scrape reads the series of a family from a /metrics endpoint: the
// labels ("" for none, else `{a="b",…}`) → value.
func scrape(addr, family string) (map[string]float64, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), family)
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		i := strings.LastIndexByte(rest, ' ')
		v, err := strconv.ParseFloat(rest[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %q: %w", family, sc.Text(), err)
		}
		out[strings.TrimSpace(rest[:i])] = v
	}
	return out, sc.Err()
}

// scrapeRequeued reads payrun_ledger_requeued_total from the ledger's
// /metrics.
func scrapeRequeued(addr string) (float64, error) {
	m, err := scrape(addr, "payrun_ledger_requeued_total")
	if err != nil {
		return 0, err
	}
	v, ok := m[""]
	if !ok {
		return 0, errors.New("no payrun_ledger_requeued_total in the ledger's /metrics")
	}
	return v, nil
}

// label is one label's value in a series' labels.
func label(series, name string) string {
	_, v, ok := strings.Cut(series, name+`="`)
	if !ok {
		return ""
	}
	v, _, _ = strings.Cut(v, `"`)
	return v
}

func selfCPU() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
