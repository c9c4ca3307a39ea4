package sandbox

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/payrun/payrun/internal/httpserve"
)

var errNoWebhookURL = errors.New("no webhook URL configured")

// Server is the sandbox bank. Create it with New, serve Handler() yourself
// (httptest.NewServer(srv)) or call Start; Close stops everything.
type Server struct {
	cfg      Config
	log      *slog.Logger
	projects map[string]*Project
	mux      *http.ServeMux
	table    map[string]route
	faults   *faultState
	idem     *idemStore
	hooks    *dispatcher

	mu          sync.Mutex
	closed      bool
	sessions    map[string]*session
	order       []*session
	nextID      int64
	webhookURL  string
	publicURL   string
	threeDS     map[string]string // 3-D Secure token → session id
	failedOnce  map[string]bool   // the "once" triggers: metadata already failed once
	publicToken map[string]*publicToken
	wallets     map[string]*wallet    // per project
	widgetCards map[string]widgetCard // number_hash → the card the widget stand-in tokenized
	submerchant map[string]int        // X-PARTNER-SUBMERCHANT value → authenticated calls ("" = none)
	widgetKey   []byte                // HMAC key of the widget stand-in's hashes

	httpSrv *httpserve.Server
	done    chan struct{} // closed by Close: stops the report drop
}

// New returns a sandbox for cfg.
func New(cfg Config) (*Server, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	if err := checkRates(cfg.Rates); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	s := &Server{
		cfg:         cfg,
		log:         cfg.Logger,
		projects:    map[string]*Project{},
		faults:      newFaultState(cfg.Faults),
		idem:        newIdemStore(),
		sessions:    map[string]*session{},
		nextID:      cfg.FirstID,
		webhookURL:  cfg.WebhookURL,
		publicURL:   cfg.PublicURL,
		threeDS:     map[string]string{},
		failedOnce:  map[string]bool{},
		publicToken: map[string]*publicToken{},
		wallets:     map[string]*wallet{},
		widgetCards: map[string]widgetCard{},
		submerchant: map[string]int{},
		widgetKey:   randomBytes(32),
		done:        make(chan struct{}),
	}
	for i := range cfg.Projects {
		p := cfg.Projects[i]
		s.projects[p.Name] = &p
		s.wallets[p.Name] = &wallet{balance: cfg.WalletBalance}
	}
	s.hooks = newDispatcher(s)
	s.table = s.api()
	s.routes()
	if cfg.ReportDir != "" {
		go s.dropDaily(s.done)
	}
	return s, nil
}

// ServeHTTP implements http.Handler: the API under /api/ and the sandbox's
// own pages under /sandbox/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Handler returns the sandbox's HTTP handler (the Server itself).
func (s *Server) Handler() http.Handler { return s }

// Start listens on addr (e.g. "127.0.0.1:8131" or "127.0.0.1:0") and serves
// in the background. URL returns the address it got.
func (s *Server) Start(addr string) error {
	srv, err := httpserve.Listen(addr, s, httpserve.ShutdownGrace(2*time.Second), httpserve.Logger(s.log))
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	s.mu.Lock()
	if s.publicURL == "" {
		s.publicURL = srv.URL()
	}
	s.httpSrv = srv
	s.mu.Unlock()
	srv.Start()
	s.log.Info("bank131 sandbox listening", "addr", srv.Addr())
	return nil
}

// URL is the sandbox's base URL (for bank131.Config.BaseURL): the public
// URL if configured, else the listen address after Start, else "".
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.publicURL
}

// SetPublicURL sets the base URL used in 3-D Secure links.
func (s *Server) SetPublicURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.publicURL = u
}

// WebhookURL returns where webhooks go.
func (s *Server) WebhookURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.webhookURL
}

// SetWebhookURL changes where webhooks go, including those being retried.
func (s *Server) SetWebhookURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhookURL = u
}

// SetFaults replaces the fault configuration (and reseeds the generator).
func (s *Server) SetFaults(f Faults) {
	if f.ReorderHold <= 0 {
		f.ReorderHold = 2 * time.Second
	}
	if f.RateBurst <= 0 {
		f.RateBurst = 1
	}
	s.faults.set(f)
}

// WebhookStats reports webhook delivery counters.
func (s *Server) WebhookStats() WebhookStats { return s.hooks.stats() }

// Close stops serving, cancels timers and webhook deliveries, and waits for
// them to end.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	srv := s.httpSrv
	close(s.done)
	s.mu.Unlock()
	var err error
	if srv != nil {
		err = srv.Shutdown()
	}
	s.hooks.close()
	return err
}

// after runs fn on the session (under s.mu) after d, unless the sandbox was
// closed or the session changed state meanwhile (gen moved on).
func (s *Server) after(d time.Duration, sess *session, fn func(*session)) {
	gen := sess.gen
	time.AfterFunc(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed || sess.gen != gen {
			return
		}
		fn(sess)
	})
}

// afterAlways is after without the state check (for timers that must run
// even if the session moved, e.g. refunds).
func (s *Server) afterAlways(d time.Duration, sess *session, fn func(*session)) {
	time.AfterFunc(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed {
			return
		}
		fn(sess)
	})
}

// newID returns the next id with a prefix (ps_, po_, pm_, rf_). Caller
// holds s.mu.
func (s *Server) newID(prefix string) string {
	id := s.nextID
	s.nextID++
	return fmt.Sprintf("%s%d", prefix, id)
}

func (s *Server) now() time.Time { return s.cfg.Now().UTC() }

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("/api/", s.serveAPI)
	m.HandleFunc("GET /sandbox/payouts", s.servePayouts)
	m.HandleFunc("GET /sandbox/report", s.serveReport)
	m.HandleFunc("POST /sandbox/report/drop", s.serveDropReport)
	m.HandleFunc("GET /sandbox/3ds/{token}", s.serve3DS)
	m.HandleFunc("PUT /sandbox/webhook-url", s.serveSetWebhookURL)
	m.HandleFunc("GET /sandbox/webhooks", s.serveWebhookStats)
	m.HandleFunc("GET /sandbox/wallet", s.serveWallets)
	m.HandleFunc("POST /sandbox/wallet", s.serveTopUp)
	m.HandleFunc("GET /sandbox/submerchants", s.serveSubmerchants)
	m.HandleFunc("GET "+WidgetScriptPath, s.serveWidgetScript)
	m.HandleFunc("GET "+widgetFormPath, s.serveWidgetForm)
	m.HandleFunc("POST "+widgetTokenizePath, s.serveWidgetTokenize)
	m.HandleFunc("GET /sandbox/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	s.mux = m
}
