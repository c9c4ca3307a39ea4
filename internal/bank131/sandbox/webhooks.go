package sandbox

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/logkey"
)

// hook is one webhook to deliver.
type hook struct {
	session string
	typ     bank131.WebhookType
	body    []byte
	sig     string // filled by the lane before the first attempt
}

// WebhookStats counts webhook deliveries.
type WebhookStats struct {
	Queued    int64 `json:"queued"`    // webhooks produced (after drop/duplicate faults)
	Delivered int64 `json:"delivered"` // answered with 200
	Attempts  int64 `json:"attempts"`  // POSTs made
	Failed    int64 `json:"failed"`    // attempts not answered with 200
	Dropped   int64 `json:"dropped"`   // never sent: drop fault
	GaveUp    int64 `json:"gave_up"`   // retried until GiveUp without a 200
	Pending   int64 `json:"pending"`   // queued, not yet delivered or given up
}

// dispatcher delivers webhooks in order per session ("lanes"), each retried
// until answered with 200 or given up, and applies the webhook faults.
type dispatcher struct {
	srv    *Server
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	slots chan struct{} // bounds POSTs in flight

	mu    sync.Mutex
	lanes map[string]*lane
	held  map[string]*heldHook

	queued, delivered, attempts, failed, dropped, gaveUp, pending atomic.Int64
}

type lane struct {
	queue []*hook
}

type heldHook struct {
	h     *hook
	timer *time.Timer
}

func newDispatcher(s *Server) *dispatcher {
	ctx, cancel := context.WithCancel(context.Background())
	return &dispatcher{srv: s, ctx: ctx, cancel: cancel, lanes: map[string]*lane{}, held: map[string]*heldHook{},
		slots: make(chan struct{}, s.cfg.WebhookRetry.Concurrency)}
}

// send queues a webhook, applying the drop, duplicate and reorder faults.
// It never blocks; the caller may hold Server.mu.
func (d *dispatcher) send(h *hook) {
	f := d.srv.faults
	if f.roll(shareWebhookDrops) {
		d.dropped.Add(1)
		d.srv.log.Info("fault: webhook dropped", logkey.Session, h.session, logkey.HookType, h.typ)
		return
	}
	copies := []*hook{h}
	if f.roll(shareWebhookDuplicates) {
		dup := *h
		copies = append(copies, &dup)
		d.srv.log.Info("fault: webhook duplicated", logkey.Session, h.session, logkey.HookType, h.typ)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ctx.Err() != nil {
		return
	}
	held := d.held[h.session]
	if held == nil && f.roll(shareWebhookReorders) {
		d.srv.log.Info("fault: webhook held back to be reordered", logkey.Session, h.session, logkey.HookType, h.typ)
		hh := &heldHook{h: copies[0]}
		d.held[h.session] = hh
		d.pending.Add(1)
		d.queued.Add(1)
		hh.timer = time.AfterFunc(f.get().ReorderHold, func() {
			d.mu.Lock()
			defer d.mu.Unlock()
			if d.held[h.session] == hh {
				delete(d.held, h.session)
				d.pending.Add(-1)
				d.queued.Add(-1)
				d.enqueueLocked(hh.h)
			}
		})
		copies = copies[1:]
	}
	for _, c := range copies {
		d.enqueueLocked(c)
	}
	if held != nil {
		// The held webhook goes after the one that overtook it.
		held.timer.Stop()
		delete(d.held, h.session)
		d.pending.Add(-1)
		d.queued.Add(-1)
		d.enqueueLocked(held.h)
	}
}

func (d *dispatcher) enqueueLocked(h *hook) {
	d.queued.Add(1)
	d.pending.Add(1)
	l := d.lanes[h.session]
	if l != nil {
		l.queue = append(l.queue, h)
		return
	}
	l = &lane{queue: []*hook{h}}
	d.lanes[h.session] = l
	d.wg.Add(1)
	go d.run(h.session, l)
}

// run delivers a lane's webhooks one after the other.
func (d *dispatcher) run(session string, l *lane) {
	defer d.wg.Done()
	for {
		d.mu.Lock()
		if len(l.queue) == 0 || d.ctx.Err() != nil {
			delete(d.lanes, session)
			d.pending.Add(-int64(len(l.queue)))
			d.mu.Unlock()
			return
		}
		h := l.queue[0]
		l.queue = l.queue[1:]
		d.mu.Unlock()
		d.deliver(h)
		d.pending.Add(-1)
	}
}

// deliver posts one webhook until it is answered with 200 or GiveUp passed.
func (d *dispatcher) deliver(h *hook) {
	log := d.srv.log.With(logkey.Session, h.session, logkey.HookType, h.typ)
	if h.sig == "" {
		sig, err := bank131.Sign(d.srv.cfg.BankKey, h.body)
		if err != nil {
			log.Error("sign webhook", logkey.Error, err)
			return
		}
		h.sig = sig
	}
	retry := d.srv.cfg.WebhookRetry
	start := time.Now()
	wait := retry.Initial
	for attempt := 1; ; attempt++ {
		if d.ctx.Err() != nil {
			return
		}
		status, err := d.post(h, retry.Timeout)
		d.attempts.Add(1)
		if err == nil && status == http.StatusOK {
			d.delivered.Add(1)
			log.Debug("webhook delivered", "attempt", attempt)
			return
		}
		d.failed.Add(1)
		if time.Since(start)+wait > retry.GiveUp {
			d.gaveUp.Add(1)
			log.Warn("webhook given up", "attempt", attempt, "http_status", status, logkey.Error, err)
			return
		}
		log.Info("webhook not accepted; will retry", "attempt", attempt, "http_status", status,
			logkey.Error, err, "wait", wait)
		select {
		case <-d.ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(wait*2, retry.Max)
	}
}

func (d *dispatcher) post(h *hook, timeout time.Duration) (int, error) {
	url := d.srv.WebhookURL()
	if url == "" {
		return 0, errNoWebhookURL
	}
	select {
	case d.slots <- struct{}{}:
		defer func() { <-d.slots }()
	case <-d.ctx.Done():
		return 0, d.ctx.Err()
	}
	ctx, cancel := context.WithTimeout(d.ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(h.body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(bank131.HeaderSign, h.sig)
	resp, err := d.srv.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

func (d *dispatcher) stats() WebhookStats {
	return WebhookStats{
		Queued: d.queued.Load(), Delivered: d.delivered.Load(), Attempts: d.attempts.Load(),
		Failed: d.failed.Load(), Dropped: d.dropped.Load(), GaveUp: d.gaveUp.Load(),
		Pending: d.pending.Load(),
	}
}

func (d *dispatcher) close() {
	d.cancel()
	d.mu.Lock()
	for k, hh := range d.held {
		hh.timer.Stop()
		delete(d.held, k)
		d.pending.Add(-1)
	}
	d.mu.Unlock()
	d.wg.Wait()
}
