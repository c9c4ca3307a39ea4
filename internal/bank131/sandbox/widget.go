package sandbox

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strings"
	texttemplate "text/template"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/payout"
)

// widgetCard is what the sandbox keeps of a card its widget stand-in
// tokenized: never the number, only what the bank shows of it.
type widgetCard struct {
	last4, brand, bin string
}

// widgetCard returns the card behind a number_hash; a hash the stand-in did
// not issue gets stable made-up details. Caller holds s.mu.
func (s *Server) widgetCard(numberHash string) widgetCard {
	if c, ok := s.widgetCards[numberHash]; ok {
		return c
	}
	return widgetCard{last4: fakeLast4(numberHash), brand: "visa"}
}

// widgetScript is the stand-in of the bank's tokenization widget library
// (names in widgetnames.go). It renders an iframe with the sandbox's card
// form; the form posts the result to the page with window.postMessage.
// Values enter it as JSON strings, which are JavaScript string literals.
var widgetScript = texttemplate.Must(texttemplate.New("js").Funcs(texttemplate.FuncMap{"js": jsString}).Parse(`/* Bank 131 sandbox: tokenization widget stand-in (not the bank's script). */
(function () {
  "use strict";
  var script = document.currentScript;
  var origin = new URL(script.src, window.location.href).origin;
  function Widget(options) {
    if (!options || !options.publicToken) {
      throw new Error({{js .Constructor}} + ": publicToken is required");
    }
    this.options = options;
  }
  Widget.prototype.render = function () {
    var c = this.options.container;
    var el = typeof c === "string" ? document.getElementById(c) : (c || document.getElementById({{js .Container}}));
    if (!el) {
      throw new Error({{js .Constructor}} + ": no element #" + (typeof c === "string" ? c : {{js .Container}}));
    }
    var frame = document.createElement("iframe");
    frame.src = origin + {{js .Form}} + "?public_token=" + encodeURIComponent(this.options.publicToken) +
      "&parent_origin=" + encodeURIComponent(window.location.origin);
    frame.title = "Bank 131 card form (sandbox)";
    frame.style.border = "0";
    frame.style.width = "100%";
    frame.style.height = "360px";
    el.appendChild(frame);
    this.frame = frame;
    return this;
  };
  Widget.MESSAGE_TYPE = {{js .Message}};
  window[{{js .Constructor}}] = Widget;
})();
`))

// widgetForm is the card form inside the iframe.
var widgetForm = template.Must(template.New("form").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Bank 131 sandbox card form</title></head>
<body>
<form id="card">
<label>Card number <input name="number" id="number" autocomplete="cc-number" inputmode="numeric" required></label><br>
<label>Month <input name="expiration_month" id="expiration_month" size="2" required></label>
<label>Year <input name="expiration_year" id="expiration_year" size="2" required></label><br>
<label>Cardholder <input name="cardholder_name" id="cardholder_name" autocomplete="cc-name"></label><br>
<label>CVC <input name="security_code" id="security_code" size="4" autocomplete="cc-csc" required></label><br>
<button type="submit" id="submit">Save card</button>
</form>
<p id="result"></p>
<script>
(function () {
  var token = {{.Token}}, parentOrigin = {{.ParentOrigin}}, type = {{.Message}};
  document.getElementById("card").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var f = ev.target, body = {public_token: token};
    ["number", "expiration_month", "expiration_year", "cardholder_name", "security_code"].forEach(function (n) { body[n] = f[n].value; });
    fetch({{.Tokenize}}, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)})
      .then(function (r) { return r.json(); })
      .then(function (a) {
        var msg = a.status === "ok" ? {type: type, status: "success", encrypted_card: a.encrypted_card}
                                    : {type: type, status: "error", error: a.error};
        document.getElementById("result").textContent = a.status === "ok" ? "Card saved." : a.error.description;
        window.parent.postMessage(msg, parentOrigin);
      });
  });
})();
</script>
</body></html>
`))

func (s *Server) serveWidgetScript(w http.ResponseWriter, _ *http.Request) {
	var b strings.Builder
	err := widgetScript.Execute(&b, map[string]string{"Constructor": WidgetConstructor, "Container": WidgetContainerID,
		"Form": widgetFormPath, "Message": WidgetMessageType})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	io.WriteString(w, b.String())
}

// jsString writes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func (s *Server) serveWidgetForm(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	token := q.Get("public_token")
	parent := q.Get("parent_origin")
	if u, err := url.Parse(parent); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" {
		http.Error(w, "parent_origin must be the page's origin (http(s)://host[:port])", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	t := s.publicToken[token]
	ok := s.usable(t) && t.tokenize
	s.mu.Unlock()
	if !ok {
		http.Error(w, "unknown, used or expired public token, or not issued for tokenize_widget", http.StatusForbidden)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// The form may be framed only by the page that opened it.
	w.Header().Set("Content-Security-Policy", "frame-ancestors "+parent)
	if err := widgetForm.Execute(w, map[string]string{"Token": token, "ParentOrigin": parent,
		"Message": WidgetMessageType, "Tokenize": widgetTokenizePath}); err != nil {
		s.log.Error("widget form", "error", err)
	}
}

// tokenizeRequest is what the card form sends.
type tokenizeRequest struct {
	PublicToken     string `json:"public_token"`
	Number          string `json:"number"`
	ExpirationMonth string `json:"expiration_month"`
	ExpirationYear  string `json:"expiration_year"`
	CardholderName  string `json:"cardholder_name"`
	SecurityCode    string `json:"security_code"`
}

type tokenizeAnswer struct {
	Status        string                 `json:"status"`
	EncryptedCard *bank131.EncryptedCard `json:"encrypted_card,omitempty"`
	Error         *bank131.Error         `json:"error,omitempty"`
}

// serveWidgetTokenize turns the card into the EncryptedCard hashes seed 000
// describes (64 hex each, S0:77-82): keyed hashes, so they reveal nothing of
// the card. The sandbox remembers the card's last four, BIN and brand
// behind number_hash (for token/info and the payout's masked card), never
// the number. A trigger card number gets a number_hash ending in the token
// suffix with the same trigger.
func (s *Server) serveWidgetTokenize(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, format string, args ...any) {
		b, _ := marshal(tokenizeAnswer{Status: "error", Error: &bank131.Error{Code: bank131.CodeInvalidRequest, Description: fmt.Sprintf(format, args...)}})
		writeJSON(w, status, b)
	}
	var req tokenizeRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil {
		fail(http.StatusBadRequest, "the form's request is not JSON")
		return
	}
	pan := strings.NewReplacer(" ", "", "-", "").Replace(req.Number)
	month, year := strings.TrimSpace(req.ExpirationMonth), strings.TrimSpace(req.ExpirationYear)
	switch {
	case len(pan) < 14 || len(pan) > 19 || strings.Trim(pan, "0123456789") != "":
		fail(http.StatusBadRequest, "card number must be 14 to 19 digits")
		return
	case !payout.Luhn(pan):
		fail(http.StatusBadRequest, "card number does not exist")
		return
	case len(month) != 2 || month < "01" || month > "12" || (len(year) != 2 && len(year) != 4) || strings.Trim(year, "0123456789") != "":
		fail(http.StatusBadRequest, "expiry must be MM and YY")
		return
	case len(req.SecurityCode) < 3 || len(req.SecurityCode) > 4 || strings.Trim(req.SecurityCode, "0123456789") != "":
		fail(http.StatusBadRequest, "security code must be 3 or 4 digits")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.publicToken[req.PublicToken]
	if !s.usable(t) || !t.tokenize {
		fail(http.StatusForbidden, "unknown, used or expired public token")
		return
	}
	t.used = true
	hash := func(field, v string) string {
		m := hmac.New(sha256.New, s.widgetKey)
		io.WriteString(m, field+"\x00"+v)
		return hex.EncodeToString(m.Sum(nil))
	}
	card := bank131.EncryptedCard{
		NumberHash:         hash("number", pan),
		ExpirationDateHash: hash("expiry", month+"/"+year[len(year)-2:]),
		CardholderNameHash: hash("holder", strings.ToUpper(strings.TrimSpace(req.CardholderName))),
		SecurityCodeHash:   hash("cvc", req.SecurityCode+"\x00"+pan),
	}
	if suffix, ok := cardTokenTrigger[pan]; ok {
		card.NumberHash = card.NumberHash[:len(card.NumberHash)-len(suffix)] + suffix
	}
	s.widgetCards[card.NumberHash] = widgetCard{last4: pan[len(pan)-4:], brand: brand(pan), bin: pan[:6]}
	s.log.Info("widget stand-in tokenized a card", "last4", pan[len(pan)-4:])
	b, _ := marshal(tokenizeAnswer{Status: "ok", EncryptedCard: &card})
	writeJSON(w, http.StatusOK, b)
}
