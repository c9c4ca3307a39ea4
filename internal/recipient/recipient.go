// Package recipient is the recipient link of a widget row (seed 000: a
// payout to a card through the bank's tokenization widget, for a payer
// that does not hold card numbers).
//
// A maker issues a link for an encrypted_card row that was uploaded
// without its card (Handler.Issue: the console's batch page, POST
// /batches/{id}/rows/{row}/link, `ledger link`). The link is
// <public URL>/r/<token>, the token signed and expiring (token.go); the
// ledger records it and keeps it single use. The page it opens is public
// but shows only that row's payee name and amount; the server obtains a
// public token from the bank (POST /api/v1/token with tokenize_widget) and
// the page loads the bank's widget script from a setting (WidgetScript),
// the only other origin its Content-Security-Policy allows (script and
// frame). The card is entered in the widget's frame on the bank's origin:
// the card number never reaches payrun. The widget posts the encrypted
// card (number_hash and the other hashes) to the page, which sends it to
// POST /r/<token>/card; the server asks token/info for its last four and
// hands it to the ledger (ledger.Service.CaptureCard), which records it
// for the row, audits it as the recipient's action via the link, and
// releases the row.
//
// The widget's names (constructor, container, message type) are the same
// assumption as the sandbox's stand-in (internal/bank131/sandbox
// widgetnames.go): the bank's card-widget page is not in any source.
package recipient

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/httpapi"
	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
)

// The widget's names: ASSUMPTIONS shared with the sandbox's stand-in
// (sandbox.WidgetConstructor, WidgetContainerID, WidgetMessageType; a test
// holds them equal). Change both when the bank's card-widget page is had.
const (
	WidgetConstructor = "Bank131Tokenization"
	WidgetContainerID = "bank131-tokenization"
	WidgetMessageType = "bank131_tokenization"
)

// Paths.
const (
	PagePrefix = httpapi.RecipientPrefix // GET /r/{token}: the recipient's page; POST /r/{token}/card
	AssetsPath = "/r/static/"            // the page's script and style
)

// Bank is what the recipient flow asks the bank (*bank131.Client).
type Bank interface {
	IssuePublicToken(ctx context.Context, req bank131.PublicTokenRequest, opts ...bank131.CallOption) (*bank131.PublicTokenResponse, error)
	TokenInfo(ctx context.Context, req bank131.TokenInfoRequest, opts ...bank131.CallOption) (*bank131.TokenInfoResponse, error)
}

// Config configures the handler.
type Config struct {
	Ledger *ledger.Service
	Bank   Bank
	// WidgetScript is the URL of the bank's tokenization widget script
	// (the sandbox's stand-in: <sandbox>/sandbox/widget/tokenization.js).
	WidgetScript string
	// PublicURL is where recipients reach payrun (scheme://host[:port]);
	// links start with it. Its host must be one the guard serves (--host).
	PublicURL string
	// TTL is how long a link stays open (0: the ledger's LinkTTL).
	TTL    time.Duration
	Logger *slog.Logger
	Now    func() time.Time
}

// Handler serves the recipient's page and the maker's link API.
type Handler struct {
	cfg    Config
	origin string // the widget script's origin: the page's CSP allows it
	mux    *http.ServeMux
	log    *slog.Logger
}

//go:embed static/*
var static embed.FS

// New checks the settings and returns the handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Ledger == nil || cfg.Bank == nil {
		return nil, errors.New("recipient links: need the ledger and a bank client")
	}
	u, err := url.Parse(cfg.WidgetScript)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("widget script %q: an absolute http(s) URL of the bank's tokenization widget is needed", cfg.WidgetScript)
	}
	p, err := url.Parse(cfg.PublicURL)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" || (p.Path != "" && p.Path != "/") {
		return nil, fmt.Errorf("public URL %q: scheme://host[:port] where recipients reach payrun is needed", cfg.PublicURL)
	}
	cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &Handler{cfg: cfg, origin: u.Scheme + "://" + u.Host, mux: http.NewServeMux(), log: cfg.Logger}
	h.mux.HandleFunc("GET "+PagePrefix+"{token}", h.page)
	h.mux.HandleFunc("POST "+PagePrefix+"{token}/card", h.card)
	h.mux.HandleFunc("GET "+AssetsPath+"{file}", h.asset)
	h.mux.HandleFunc("POST /batches/{id}/rows/{row}/link", h.issueAPI)
	return h, nil
}

// ServeHTTP serves the routes httpapi.Table gives the handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Issue makes a recipient link for a row as p: the ledger records and
// audits it; the URL carries the signed token.
func (h *Handler) Issue(ctx context.Context, p *auth.Principal, batch string, row int) (string, time.Time, error) {
	l, err := h.cfg.Ledger.IssueLink(ctx, p, batch, row, h.cfg.TTL)
	if err != nil {
		return "", time.Time{}, err
	}
	key, err := h.cfg.Ledger.LinkKey(ctx)
	if err != nil {
		return "", time.Time{}, err
	}
	return h.cfg.PublicURL + PagePrefix + Sign(key, l.ID, l.ExpiresAt), l.ExpiresAt, nil
}

// LinkAnswer is the API's answer to an issued link.
type LinkAnswer struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (h *Handler) issueAPI(w http.ResponseWriter, r *http.Request) {
	row, err := strconv.Atoi(r.PathValue("row"))
	if err != nil || row < 1 {
		httpapi.Error(w, r, h.log, ledgerapi.Errorf(ledgerapi.CodeInvalid, "row %q: a row number is needed", r.PathValue("row")))
		return
	}
	u, exp, err := h.Issue(r.Context(), auth.PrincipalFrom(r.Context()), r.PathValue("id"), row)
	if err != nil {
		httpapi.Error(w, r, h.log, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusCreated, LinkAnswer{URL: u, ExpiresAt: exp.UTC()}, h.log)
}

// linkID verifies the request's token and returns its link id.
func (h *Handler) linkID(r *http.Request) (string, error) {
	key, err := h.cfg.Ledger.LinkKey(r.Context())
	if err != nil {
		return "", err
	}
	id, err := Verify(key, r.PathValue("token"), h.cfg.Now())
	switch {
	case errors.Is(err, ErrExpired):
		return "", ledgerapi.Errorf(ledgerapi.CodeConflict, "this link is %s", ledger.LinkExpired)
	case err != nil:
		return "", ledgerapi.Errorf(ledgerapi.CodeNotFound, "this link is not known")
	}
	return id, nil
}

// csp is the page's Content-Security-Policy: our script and style, the
// widget's script and frame from its origin, requests to us only.
func (h *Handler) csp() string {
	return "default-src 'none'; script-src 'self' " + h.origin + "; frame-src " + h.origin + "; connect-src 'self'; " +
		"style-src 'self'; img-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
}

func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", h.csp())
	w.Header().Set("Referrer-Policy", "no-referrer") // the token is in the URL
	tr := pick(r)
	v := pageView{T: tr, Lang: tr["lang"]}
	id, err := h.linkID(r)
	if err != nil {
		h.render(w, http.StatusNotFound, v.closed(tr, err))
		return
	}
	lv, err := h.cfg.Ledger.LinkView(r.Context(), id)
	if err != nil {
		h.render(w, http.StatusNotFound, v.closed(tr, err))
		return
	}
	v.Recipient, v.Amount = lv.Recipient, formatAmount(lv.Amount.Minor, lv.Amount.Currency)
	if lv.State != ledger.LinkOpen {
		v.Message = tr["state_"+string(lv.State)]
		if lv.State == ledger.LinkUsed && lv.Last4 != "" {
			v.Message += " " + fmt.Sprintf(tr["card_last4"], lv.Last4)
		}
		h.render(w, http.StatusGone, v)
		return
	}
	// A public token per page view: the bank's is short-lived and single
	// use (SG-token; a sandbox mode).
	pt, err := h.cfg.Bank.IssuePublicToken(r.Context(), bank131.PublicTokenRequest{TokenizeWidget: &bank131.WidgetAccess{Access: true}})
	if err != nil {
		h.log.Error("public token for a recipient link", "link", id[:8], "error", cardmask.Redact(err.Error()))
		v.Message = tr["bank_down"]
		h.render(w, http.StatusServiceUnavailable, v)
		return
	}
	v.Open, v.PublicToken, v.WidgetScript = true, pt.PublicToken, h.cfg.WidgetScript
	v.WidgetOrigin, v.CardURL = h.origin, PagePrefix+r.PathValue("token")+"/card"
	v.Constructor, v.Container, v.MessageType = WidgetConstructor, WidgetContainerID, WidgetMessageType
	h.render(w, http.StatusOK, v)
}

// cardRequest is what the page posts: the widget's encrypted card.
type cardRequest struct {
	EncryptedCard *payout.EncryptedCard `json:"encrypted_card"`
}

// CardAnswer answers a card that landed.
type CardAnswer struct {
	Status string `json:"status"`
	Last4  string `json:"last4,omitempty"`
}

func (h *Handler) card(w http.ResponseWriter, r *http.Request) {
	id, err := h.linkID(r)
	if err != nil {
		httpapi.Error(w, r, h.log, err)
		return
	}
	var req cardRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.EncryptedCard == nil || req.EncryptedCard.NumberHash == "" {
		httpapi.Error(w, r, h.log, ledgerapi.Errorf(ledgerapi.CodeInvalid, "the body must be {\"encrypted_card\":{\"number_hash\":…}} as the widget gives it"))
		return
	}
	c := *req.EncryptedCard
	// token/info: the card's last four, to show the recipient and the
	// report where the money went. Without it the card still lands.
	var info ledger.CardInfo
	if ti, err := h.cfg.Bank.TokenInfo(r.Context(), bank131.EncryptedCardInfo(c.NumberHash)); err != nil {
		h.log.Warn("token/info of a captured card", "link", id[:8], "error", cardmask.Redact(err.Error()))
	} else if ti != nil {
		info = ledger.CardInfo{Last4: ti.Info.Last4, Brand: ti.Info.Brand}
	}
	v, err := h.cfg.Ledger.CaptureCard(r.Context(), id, c, info, r.RemoteAddr)
	if err != nil {
		httpapi.Error(w, r, h.log, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, CardAnswer{Status: "ok", Last4: v.Last4}, h.log)
}

func (h *Handler) asset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	b, err := static.ReadFile("static/" + name)
	if err != nil || strings.Contains(name, "/") {
		http.NotFound(w, r)
		return
	}
	ctype := "text/css; charset=utf-8"
	if strings.HasSuffix(name, ".js") {
		ctype = "text/javascript; charset=utf-8"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(b)
}

// formatAmount writes minor units as "1 500.00 RUB".
func formatAmount(minor int64, cur string) string {
	neg := minor < 0
	if neg {
		minor = -minor
	}
	whole := strconv.FormatInt(minor/100, 10)
	var b strings.Builder
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteString("\u00a0")
		}
		b.WriteRune(c)
	}
	s := fmt.Sprintf("%s.%02d %s", b.String(), minor%100, strings.ToUpper(cur))
	if neg {
		s = "-" + s
	}
	return s
}

// pageView is what the page template shows.
type pageView struct {
	T                                   map[string]string
	Lang                                string
	Recipient, Amount, Message          string
	Open                                bool
	PublicToken, WidgetScript           string
	WidgetOrigin, CardURL               string
	Constructor, Container, MessageType string
}

func (v pageView) closed(tr map[string]string, err error) pageView {
	v.Message = tr["state_unknown"]
	if ledgerapi.IsCode(err, ledgerapi.CodeConflict) {
		v.Message = tr["state_expired"]
	}
	return v
}

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.T.title}}</title><link rel="stylesheet" href="/r/static/recipient.css"></head>
<body><main>
<h1>{{.T.title}}</h1>
{{if .Recipient}}<dl id="payout"><dt>{{.T.recipient}}</dt><dd id="recipient">{{.Recipient}}</dd><dt>{{.T.amount}}</dt><dd id="amount">{{.Amount}}</dd></dl>{{end}}
{{if .Open}}<p>{{.T.enter}}</p>
<div id="{{.Container}}" data-public-token="{{.PublicToken}}" data-widget-origin="{{.WidgetOrigin}}" data-card-url="{{.CardURL}}"
 data-widget-global="{{.Constructor}}" data-message-type="{{.MessageType}}" data-saved="{{.T.saved}}" data-failed="{{.T.failed}}"></div>
<p id="status" role="status"></p>
<script src="{{.WidgetScript}}"></script>
<script src="/r/static/recipient.js"></script>
{{else}}<p id="status" role="status">{{.Message}}</p>{{end}}
<p class="fine">{{.T.fine}}</p>
</main></body></html>
`))

func (h *Handler) render(w http.ResponseWriter, status int, v pageView) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := pageTemplate.Execute(w, v); err != nil {
		h.log.Error("recipient page", "error", err)
	}
}

// pick chooses the page's language from Accept-Language: Russian first
// when the browser asks for it, else English.
func pick(r *http.Request) map[string]string {
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag := strings.ToLower(strings.TrimSpace(strings.SplitN(part, ";", 2)[0]))
		switch {
		case strings.HasPrefix(tag, "ru"):
			return texts["ru"]
		case strings.HasPrefix(tag, "en"):
			return texts["en"]
		}
	}
	return texts["ru"]
}

var texts = map[string]map[string]string{
	"en": {
		"lang": "en", "title": "Your card for the payout", "recipient": "Recipient", "amount": "Amount",
		"enter":      "Enter the card the money should go to. The form belongs to the bank: payrun never sees the card number.",
		"saved":      "Thank you: the card is saved and the payout is on its way.",
		"failed":     "The card could not be saved:",
		"fine":       "This link is for one payout only and works once.",
		"card_last4": "Card …%s.", "bank_down": "The bank's form is not available right now; try again in a few minutes.",
		"state_used": "The card for this payout has been received.", "state_expired": "This link has expired. Ask the sender for a new one.",
		"state_revoked": "This link was replaced by a newer one. Use the newest link you were sent.",
		"state_closed":  "This payout no longer waits for a card.", "state_unknown": "This link is not valid.",
	},
	"ru": {
		"lang": "ru", "title": "Карта для выплаты", "recipient": "Получатель", "amount": "Сумма",
		"enter":      "Укажите карту, на которую придут деньги. Форма принадлежит банку: payrun не видит номер карты.",
		"saved":      "Спасибо: карта сохранена, выплата отправлена.",
		"failed":     "Не удалось сохранить карту:",
		"fine":       "Ссылка действует для одной выплаты и один раз.",
		"card_last4": "Карта …%s.", "bank_down": "Форма банка сейчас недоступна; попробуйте через несколько минут.",
		"state_used": "Карта для этой выплаты уже получена.", "state_expired": "Срок действия ссылки истёк. Попросите отправителя прислать новую.",
		"state_revoked": "Эту ссылку заменила новая. Откройте последнюю присланную ссылку.",
		"state_closed":  "Эта выплата больше не ждёт карту.", "state_unknown": "Ссылка недействительна.",
	},
}
