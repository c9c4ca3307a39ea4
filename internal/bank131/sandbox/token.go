package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"

	"github.com/payrun/payrun/internal/bank131"
)

// publicToken is a public token issued by the token method. Guarded by
// Server.mu. With Modes.PublicToken single-use it opens the widget once,
// within Modes.PublicTokenTTL (the sibling API: "valid for 24 hours … only
// be used for a single operation"); by default it never expires.
type publicToken struct {
	issued   time.Time
	used     bool
	tokenize bool // opens the tokenization widget
}

// usable reports whether t may open a widget now.
func (s *Server) usable(t *publicToken) bool {
	if t == nil {
		return false
	}
	if s.cfg.Modes.PublicToken == modeSingleUse {
		return !t.used && s.now().Sub(t.issued) < s.cfg.Modes.PublicTokenTTL
	}
	return true
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

type tokenAnswer struct {
	Status      string `json:"status"`
	PublicToken string `json:"public_token"`
}

// handleToken issues a public token for the bank's widgets.
func (s *Server) handleToken(c *call) ([]byte, *apiError) {
	var req bank131.PublicTokenRequest
	if err := decode(c.body, &req); err != nil {
		return nil, err
	}
	switch {
	case req.TokenizeWidget == nil && req.SelfEmployedWidget == nil && req.AcquiringWidget == nil:
		return nil, invalid("name at least one widget: tokenize_widget, self_employed_widget or acquiring_widget")
	case req.TokenizeWidget != nil && !req.TokenizeWidget.Access:
		return nil, invalid("tokenize_widget.access must be true")
	case req.SelfEmployedWidget != nil && (len(req.SelfEmployedWidget.TaxReference) != 12 ||
		strings.Trim(req.SelfEmployedWidget.TaxReference, "0123456789") != ""):
		return nil, invalid("self_employed_widget.tax_reference must be 12 digits")
	case req.AcquiringWidget != nil && req.AcquiringWidget.SessionID == "":
		return nil, invalid("acquiring_widget.session_id is required")
	}
	token := hex.EncodeToString(randomBytes(32)) // 64 hex, like the sibling API's example
	s.mu.Lock()
	s.publicToken[token] = &publicToken{issued: s.now(), tokenize: req.TokenizeWidget != nil}
	s.mu.Unlock()
	out, err := marshal(tokenAnswer{Status: "ok", PublicToken: token})
	if err != nil {
		return nil, newAPIError(bank131.CodeInternal, "render: %v", err)
	}
	return out, nil
}

type tokenInfoAnswer struct {
	Status string            `json:"status"`
	Info   bank131.TokenInfo `json:"info"`
}

// handleTokenInfo describes a card token, a widget card, a public token or
// a recurrent token (SDK TokenInfo: token, number_hash, brand, last4,
// country_iso3, type). A card the widget stand-in tokenized shows its real
// last four and brand; other card tokens get made-up details, stable per
// token (the sandbox never saw their card).
func (s *Server) handleTokenInfo(c *call) ([]byte, *apiError) {
	var req bank131.TokenInfoRequest
	if err := decode(c.body, &req); err != nil {
		return nil, err
	}
	var info bank131.TokenInfo
	yes := true
	switch req.Type {
	case bank131.TokenInfoCard:
		card := req.Card
		switch {
		case card != nil && card.TokenizedCard != nil && card.TokenizedCard.Token != "":
			t := card.TokenizedCard.Token
			info = bank131.TokenInfo{Token: t, Brand: "visa", Last4: fakeLast4(t), CountryISO3: "RUS", Type: "card"}
		case card != nil && card.EncryptedCard != nil && card.EncryptedCard.NumberHash != "":
			h := card.EncryptedCard.NumberHash
			s.mu.Lock()
			wc := s.widgetCard(h)
			s.mu.Unlock()
			info = bank131.TokenInfo{NumberHash: h, Brand: wc.brand, Last4: wc.last4, CountryISO3: "RUS", Type: "card"}
		default:
			return nil, invalid("card.tokenized_card.token or card.encrypted_card.number_hash is required")
		}
	case bank131.TokenInfoPublicToken:
		if req.PublicToken == nil || req.PublicToken.Token == "" {
			return nil, invalid("public_token.token is required")
		}
		s.mu.Lock()
		active := s.usable(s.publicToken[req.PublicToken.Token])
		s.mu.Unlock()
		info = bank131.TokenInfo{Token: req.PublicToken.Token, Type: bank131.TokenInfoPublicToken, IsActive: &active}
	case bank131.TokenInfoRecurrent:
		if req.RecurrentToken == nil || req.RecurrentToken.Token == "" {
			return nil, invalid("recurrent_token.token is required")
		}
		info = bank131.TokenInfo{Token: req.RecurrentToken.Token, Type: bank131.TokenInfoRecurrent, IsActive: &yes}
		if s.cfg.Modes.RecurrentFinishedAt == modeYear {
			info.FinishedAt = bank131.NewTime(s.now().AddDate(1, 0, 0))
		}
	default:
		return nil, invalid("type must be card, public_token or recurrent_token")
	}
	out, err := marshal(tokenInfoAnswer{Status: "ok", Info: info})
	if err != nil {
		return nil, newAPIError(bank131.CodeInternal, "render: %v", err)
	}
	return out, nil
}
