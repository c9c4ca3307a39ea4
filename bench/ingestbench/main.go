// Command ingestbench measures ingest on a generated payout file: validation
// alone, the gocsv decoder against the direct csv.Reader loop, and ingest
// into an embedded JetStream against a plain async publish of the same
// number of messages of the same size. See bench/README.md.
package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gocarina/gocsv"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/payrun/payrun/internal/batch"
	"github.com/payrun/payrun/internal/batch/batchtest"
	"github.com/payrun/payrun/internal/ingest"
	"github.com/payrun/payrun/internal/intake"
	"github.com/payrun/payrun/internal/queue"
	"github.com/payrun/payrun/internal/queue/natsserver"
	"github.com/payrun/payrun/internal/secret"
)

func main() {
	rows := flag.Int("rows", 1_000_000, "rows in the generated file")
	what := flag.String("run", "validate,gocsv,ingest", "comma-separated: validate, gocsv, ingest")
	cpu := flag.String("cpuprofile", "", "write a CPU profile to `file`")
	window = flag.Int("window", 0, "the ingest's window of unacknowledged publishes (default ingest.DefaultWindow)")
	phaseProfile := flag.String("phaseprofile", "", "with -run ingest: write CPU profiles of the ingest and of the plain publish to `PREFIX`.ingest and PREFIX.plain")
	generate := flag.String("generate", "", "only write a generated file of -rows rows to `FILE`")
	serve := flag.String("serve", "", "only run an embedded JetStream with its store in `DIR` (for measuring the ingest binary)")
	flag.Parse()
	if *generate != "" || *serve != "" {
		if err := tool(*generate, *serve, *rows); err != nil {
			fmt.Fprintln(os.Stderr, "ingestbench:", err)
			os.Exit(1)
		}
		return
	}
	if *cpu != "" {
		f, err := os.Create(*cpu)
		if err != nil {
			fmt.Fprintln(os.Stderr, "ingestbench:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if *phaseProfile != "" && *cpu != "" {
		fmt.Fprintln(os.Stderr, "ingestbench: -cpuprofile and -phaseprofile exclude each other")
		os.Exit(2)
	}
	profilePrefix = *phaseProfile
	if err := run(*rows, *what); err != nil {
		fmt.Fprintln(os.Stderr, "ingestbench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

// profilePrefix, if set, names the CPU profiles of the ingest and of the
// plain publish (-phaseprofile).
var profilePrefix string

// window is -window.
var window *int

// profile runs fn under a CPU profile written to profilePrefix.name.
func profile(name string, fn func() error) error {
	if profilePrefix == "" {
		return fn()
	}
	f, err := os.Create(profilePrefix + "." + name)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	defer pprof.StopCPUProfile()
	return fn()
}

// tool writes a file or serves JetStream until interrupted.
func tool(generate, serve string, n int) error {
	if generate != "" {
		f, err := os.Create(generate)
		if err != nil {
			return err
		}
		if err := batchtest.Write(f, n); err != nil {
			return err
		}
		return f.Close()
	}
	e, err := natsserver.Start(natsserver.Options{Dir: serve})
	if err != nil {
		return err
	}
	defer e.Close()
	fmt.Println(e.URL())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return nil
}

func run(n int, what string) error {
	dir, err := os.MkdirTemp("", "ingestbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "payroll.csv")
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := batchtest.Write(f, n); err != nil {
		return err
	}
	f.Close()
	st, _ := os.Stat(path)
	fmt.Printf("file: %d rows, %.1f MB; GOMAXPROCS %d\n", n, float64(st.Size())/1e6, runtime.GOMAXPROCS(0))

	for _, w := range bytes.Split([]byte(what), []byte(",")) {
		switch string(w) {
		case "validate":
			if err := benchValidate(path, n); err != nil {
				return err
			}
		case "gocsv":
			if err := benchGocsv(path, n); err != nil {
				return err
			}
		case "ingest":
			if err := benchIngest(dir, path, n); err != nil {
				return err
			}
		case "sparse":
			if err := benchSparse(dir, n); err != nil {
				return err
			}
		}
	}
	return nil
}

// peak samples the Go runtime's memory obtained from the OS while fn runs.
func peak(fn func() error) (uint64, error) {
	runtime.GC()
	var max atomic.Uint64
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			select {
			case <-done:
				return
			case <-t.C:
				runtime.ReadMemStats(&ms)
				if v := ms.HeapInuse + ms.StackInuse; v > max.Load() {
					max.Store(v)
				}
			}
		}
	}()
	err := fn()
	close(done)
	return max.Load(), err
}

func benchValidate(path string, n int) error {
	var res *batch.Result
	start := time.Now()
	mem, err := peak(func() error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		res, err = batch.Validate(f, batch.Options{})
		return err
	})
	if err != nil {
		return err
	}
	d := time.Since(start)
	if !res.Valid() || res.Rows != n {
		return fmt.Errorf("validate: %d rows, %d errors", res.Rows, res.ErrorCount)
	}
	fmt.Printf("validate: %d rows in %v = %.0f rows/s; peak heap in use %.0f MB\n", n, d.Round(time.Millisecond), float64(n)/d.Seconds(), float64(mem)/1e6)
	return nil
}

// record is a gocsv row struct over the generated file's columns.
type record struct {
	Reference   string `csv:"reference"`
	Method      string `csv:"method"`
	Amount      string `csv:"amount"`
	Currency    string `csv:"currency"`
	FullName    string `csv:"full_name"`
	CardNumber  string `csv:"card_number"`
	CardToken   string `csv:"card_token"`
	NumberHash  string `csv:"number_hash"`
	Department  string `csv:"meta_department"`
	Description string `csv:"description"`
	Email       string `csv:"email"`
	Phone       string `csv:"phone"`
}

// benchGocsv compares reading records with gocsv and with csv.Reader alone.
func benchGocsv(path string, n int) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	start := time.Now()
	count := 0
	r := csv.NewReader(f)
	r.ReuseRecord = true
	err = gocsv.UnmarshalDecoderToCallback(gocsv.NewSimpleDecoderFromCSVReader(r), func(x *record) { count++ })
	f.Close()
	if err != nil {
		return err
	}
	d := time.Since(start)
	fmt.Printf("gocsv decode only: %d rows in %v = %.0f rows/s\n", count, d.Round(time.Millisecond), float64(count)/d.Seconds())

	f, err = os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	start = time.Now()
	count = 0
	r = csv.NewReader(f)
	r.ReuseRecord = true
	for {
		if _, err := r.Read(); err == io.EOF {
			break
		} else if err != nil {
			return err
		}
		count++
	}
	d = time.Since(start)
	fmt.Printf("csv.Reader only:   %d rows in %v = %.0f rows/s\n", count-1, d.Round(time.Millisecond), float64(count-1)/d.Seconds())
	return nil
}

// server starts a fresh embedded JetStream with the payrun streams.
func server(dir string) (*natsserver.Server, jetstream.JetStream, *nats.Conn, error) {
	e, err := natsserver.Start(natsserver.Options{Dir: dir})
	if err != nil {
		return nil, nil, nil, err
	}
	nc, err := queue.Connect(e.URL(), "bench")
	if err != nil {
		return nil, nil, nil, err
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4*ingest.DefaultWindow))
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := queue.EnsureStreams(ctx, js, queue.Config{}); err != nil {
		return nil, nil, nil, err
	}
	return e, js, nc, nil
}

func benchIngest(dir, path string, n int) error {
	// A deployment's keys: a card key pair (the public half seals) and
	// upload keys.
	card, err := secret.GenerateCardKey()
	if err != nil {
		return err
	}
	sealer, err := secret.NewSealer(card.Public(), secret.GenerateUploadKeys())
	if err != nil {
		return err
	}
	env, err := sealer.Begin()
	if err != nil {
		return err
	}
	e, js, nc, err := server(filepath.Join(dir, "js-ingest"))
	if err != nil {
		return err
	}
	var res *ingest.Result
	start := time.Now()
	cpuStart := cpuTime()
	mem, err := peak(func() error {
		return profile("ingest", func() error {
			res, err = ingest.Ingest(context.Background(), js, path, ingest.Options{Sealer: sealer, Window: *window, Logger: slog.New(slog.DiscardHandler)})
			return err
		})
	})
	if err != nil {
		return err
	}
	dIngest := time.Since(start)
	cpuIngest := cpuTime() - cpuStart
	s, _ := js.Stream(context.Background(), queue.StreamIntake)
	info, _ := s.Info(context.Background())
	msgSize := int(info.State.Bytes / info.State.Msgs)
	nc.Close()
	e.Close()
	if res.Status != ingest.StatusCreated || res.Published != n {
		return fmt.Errorf("ingest: %s, %d published", res.Status, res.Published)
	}
	fmt.Printf("ingest (validate + publish + manifest): %d rows in %v = %.0f rows/s, %.2f CPU s; peak heap in use %.0f MB (stored bytes/msg %d)\n",
		n, dIngest.Round(time.Millisecond), float64(n)/dIngest.Seconds(), cpuIngest.Seconds(), float64(mem)/1e6, msgSize)

	// Plain async publish of n messages of the average row message size
	// (over the first 1000 rows; methods repeat every 4 rows), same headers.
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	total, count := 0, 0
	for row, err := range batch.Rows(f, batch.Options{}, func(pan string, r int) string { return env.Seal(pan, res.Batch+"/"+strconv.Itoa(r)) }) {
		if err != nil {
			f.Close()
			return err
		}
		row.Batch = res.Batch
		if row.Card != nil {
			row.Card.Fingerprint = sealer.Fingerprint(row.Card.Last4) // the size of a fingerprint
		}
		row.Digest = strings.Repeat("0", 64) // the size of a row digest
		b := intake.EncodeRow(row)
		total += len(b)
		if count++; count == 1000 {
			break
		}
	}
	f.Close()
	size := total / count
	e, js, nc, err = server(filepath.Join(dir, "js-plain"))
	if err != nil {
		return err
	}
	defer e.Close()
	defer nc.Close()
	data := bytes.Repeat([]byte("x"), size)
	const id = "b00000000000000plain0" // as long as a batch id
	// The same conditions as the ingest: the heap sampler runs beside it.
	start = time.Now()
	cpuStart = cpuTime()
	memPlain, err := peak(func() error {
		return profile("plain", func() error {
			for i := 1; i <= n; i++ {
				msg := &nats.Msg{Subject: queue.IntakeRowSubject(id), Data: data, Header: nats.Header{
					jetstream.MsgIDHeader: []string{queue.RowMsgID(id, i)},
					queue.HeaderBatch:     []string{id},
					queue.HeaderRow:       []string{strconv.Itoa(i)},
					queue.HeaderKind:      []string{"row"},
				}}
				if _, err := js.PublishMsgAsync(msg, jetstream.WithStallWait(time.Minute)); err != nil {
					return err
				}
			}
			<-js.PublishAsyncComplete()
			return nil
		})
	})
	if err != nil {
		return err
	}
	dPlain := time.Since(start)
	cpuPlain := cpuTime() - cpuStart
	s, _ = js.Stream(context.Background(), queue.StreamIntake)
	info, _ = s.Info(context.Background())
	if info.State.Msgs != uint64(n) {
		return fmt.Errorf("plain publish: %d of %d messages stored", info.State.Msgs, n)
	}
	plainSize := int(info.State.Bytes / info.State.Msgs)
	fmt.Printf("plain async publish: %d msgs of %d B in %v = %.0f msg/s, %.2f CPU s; peak heap in use %.0f MB (stored bytes/msg %d)\n",
		n, size, dPlain.Round(time.Millisecond), float64(n)/dPlain.Seconds(), cpuPlain.Seconds(), float64(memPlain)/1e6, plainSize)
	fmt.Printf("ingest / plain publish = %.2f (wall clock); CPU seconds plain / ingest = %.2f\n", dPlain.Seconds()/dIngest.Seconds(), cpuPlain.Seconds()/cpuIngest.Seconds())
	return nil
}

// cpuTime is the process's CPU time so far (user and system, every
// thread): on a shared machine the CPU a phase costs moves less than its
// wall-clock time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchSparse publishes n messages of 720 B in all (the ingest's stored
// size) twice: every one acknowledged (PublishMsgAsync), and only every
// 64th (core publishes between them: a stream stores them in order from
// one connection, so the 64th's acknowledgement covers them).
func benchSparse(dir string, n int) error {
	const id = "b00000000000000plain0"
	data := bytes.Repeat([]byte("x"), 522)
	for _, every := range []int{1, 64} {
		e, js, nc, err := server(filepath.Join(dir, "js-sparse"+strconv.Itoa(every)))
		if err != nil {
			return err
		}
		start := time.Now()
		cpuStart := cpuTime()
		for i := 1; i <= n; i++ {
			msg := &nats.Msg{Subject: queue.IntakeRowSubject(id), Data: data, Header: nats.Header{
				jetstream.MsgIDHeader: []string{queue.RowMsgID(id, i)},
				queue.HeaderBatch:     []string{id},
				queue.HeaderRow:       []string{strconv.Itoa(i)},
				queue.HeaderKind:      []string{"row"},
			}}
			if i%every == 0 || i == n {
				_, err = js.PublishMsgAsync(msg, jetstream.WithStallWait(time.Minute))
			} else {
				err = nc.PublishMsg(msg)
			}
			if err != nil {
				return err
			}
		}
		<-js.PublishAsyncComplete()
		d, c := time.Since(start), cpuTime()-cpuStart
		s, _ := js.Stream(context.Background(), queue.StreamIntake)
		info, _ := s.Info(context.Background())
		fmt.Printf("an ack every %d: %d msgs in %v, %.2f CPU s, %d stored\n", every, n, d.Round(time.Millisecond), c.Seconds(), info.State.Msgs)
		nc.Close()
		e.Close()
	}
	return nil
}
