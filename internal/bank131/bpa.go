package bank131

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Calculate is the conversion request of a cross-border transfer
// (bpa/calculate, and the calculate object of multi/init/payment): one side
// has an amount, the other is null and computed by the bank. One side must be
// RUB. Forward rate: give the source (RUB); reverse rate: give the
// destination.
type Calculate struct {
	Amounts CalcSides `json:"amounts"`
}

// CalcSides are the two sides of a conversion.
type CalcSides struct {
	Source      CalcAmount `json:"source"`
	Destination CalcAmount `json:"destination"`
}

// CalculateResponse is the answer of bpa/calculate.
type CalculateResponse struct {
	Amounts   CalculatedAmounts `json:"amounts"`
	Exchanges CalcExchanges     `json:"exchanges"`
}

// CalculatedAmounts are the computed sums. Payment is what the sender pays:
// source + transfer fee + SMS fee.
type CalculatedAmounts struct {
	Source      Amount `json:"source"`
	Destination Amount `json:"destination"`
	TransferFee Amount `json:"transfer_fee"`
	SMSFee      Amount `json:"sms_fee"`
	Payment     Amount `json:"payment"`
}

// CalcExchanges echoes the request and gives the rate.
type CalcExchanges struct {
	Source      CalcAmount `json:"source"`
	Destination CalcAmount `json:"destination"`
	Rate        Rate       `json:"rate"`
}

// Rate is the bank's rate in bpa/calculate: FXRate roubles for Quantity
// units of the foreign currency. FXRate is a JSON number kept as its decimal
// text, never a float.
type Rate struct {
	FXRate   json.Number `json:"fx_rate"`
	Quantity int64       `json:"quantity"`
}

// Rat returns the rate as an exact fraction: roubles per one unit of the
// foreign currency (FXRate / Quantity).
func (r Rate) Rat() (*big.Rat, error) {
	v, err := ParseDecimal(string(r.FXRate))
	if err != nil {
		return nil, err
	}
	q := r.Quantity
	if q == 0 {
		q = 1
	}
	return v.Quo(v, new(big.Rat).SetInt64(q)), nil
}

// ParseDecimal reads a decimal string ("2.7233", "0.3000") exactly. Exponents
// and fractions ("1/3") are refused: rates are plain decimals.
func ParseDecimal(s string) (*big.Rat, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.ContainsAny(s, "eE/") {
		return nil, fmt.Errorf("rate %q is not a plain decimal", s)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil, fmt.Errorf("rate %q is not a decimal", s)
	}
	return r, nil
}

// ConfirmInformation is the typed view of the confirm_information object a
// ready_to_confirm webhook carries. Confirm with the raw bytes, never with a
// re-encoding of this view.
type ConfirmInformation struct {
	Exchanges       Exchanges       `json:"exchanges,omitempty"`
	TransferDetails json.RawMessage `json:"transfer_details,omitempty"`
	AccountDetails  json.RawMessage `json:"account_details,omitempty"`
}

// Exchange is one conversion the sender agrees to: Source is taken (plus
// Commission on top), Destination is paid out, FXRate is the decimal rate
// as the bank writes it (a string, or the text of a number).
type Exchange struct {
	ID          string  `json:"id"`
	Source      Amount  `json:"source"`
	Destination Amount  `json:"destination"`
	FXRate      string  `json:"fx_rate"`
	Commission  *Amount `json:"commission,omitempty"`
}

// Exchanges is confirm_information.exchanges. Seed 003's examples and the
// SDK (ConfirmInformation.php: ConfirmExchange[]) write an array; the seed's
// parameter table types it as an object. Both are read: an object is one
// exchange. It is written as an array.
type Exchanges []Exchange

// UnmarshalJSON implements json.Unmarshaler.
func (x *Exchanges) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*x = nil
		return nil
	case len(b) > 0 && b[0] == '{':
		var one Exchange
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*x = Exchanges{one}
		return nil
	case len(b) > 0 && b[0] == '[':
		var list []Exchange
		if err := json.Unmarshal(b, &list); err != nil {
			return err
		}
		*x = list
		return nil
	}
	return fmt.Errorf("exchanges is neither an array nor an object: %.20s", b)
}

// UnmarshalJSON implements json.Unmarshaler: fx_rate may be a string (seed
// 003's confirm_information, the SDK's ConfirmExchange) or a number (as
// bpa/calculate writes its rate); FXRate keeps the text as written.
func (e *Exchange) UnmarshalJSON(b []byte) error {
	type plain Exchange
	var v struct {
		plain
		FXRate json.RawMessage `json:"fx_rate"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	rate, err := decimalText(v.FXRate)
	if err != nil {
		return fmt.Errorf("fx_rate: %w", err)
	}
	*e = Exchange(v.plain)
	e.FXRate = rate
	return nil
}

// decimalText returns a JSON string's content or a JSON number's text;
// absent and null are "".
func decimalText(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || bytes.Equal(raw, []byte("null")):
		return "", nil
	case raw[0] == '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'):
		return string(raw), nil
	}
	return "", fmt.Errorf("%.20s is neither a string nor a number", raw)
}

// ParseConfirmInformation reads the typed view of a confirm_information value.
func ParseConfirmInformation(raw json.RawMessage) (*ConfirmInformation, error) {
	if len(raw) == 0 {
		return nil, errors.New("no confirm_information")
	}
	var ci ConfirmInformation
	if err := json.Unmarshal(raw, &ci); err != nil {
		return nil, fmt.Errorf("parse confirm_information: %w", err)
	}
	return &ci, nil
}

// WebhookDetails is the details object of a webhook (cross-border transfers).
type WebhookDetails struct {
	TCNCodeEncoded string `json:"tcn_code_encoded,omitempty"`
}

// TCN decodes the transfer control number the recipient needs to collect a
// transfer.
func (d *WebhookDetails) TCN() (string, error) {
	if d == nil || d.TCNCodeEncoded == "" {
		return "", errors.New("no tcn_code_encoded")
	}
	return DecodeTCN(d.TCNCodeEncoded)
}

// ThreeDSLinkLifetime is how long payrun counts a transfer's 3-D Secure
// link (customer_interaction.redirect.url of action_required) as open,
// from the time the ledger recorded it; reports show the link's expiry as
// that time plus this. The bank's pages name no lifetime for the link
// (shared/bank131-api.md §5.3 only cites a 240-minute confirm deadline from
// a sibling page); 15 minutes is the sandbox's 3-D Secure timeout and a
// common one for 3-D Secure pages: an estimate, to be replaced by the
// bank's figure when its manager gives one.
const ThreeDSLinkLifetime = 15 * time.Minute

// DecodeTCN decodes a Base64 transfer control number (tcn_code_encoded),
// e.g. "NTkyMTc0LTY5NDEyMjEx" → "592174-69412211". Standard and URL-safe
// alphabets, with or without padding, are accepted.
func DecodeTCN(encoded string) (string, error) {
	s := strings.TrimSpace(encoded)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return string(b), nil
		}
	}
	return "", fmt.Errorf("tcn_code_encoded %q is not Base64", encoded)
}

// MultiInitPaymentRequest starts a cross-border transfer
// (POST /api/v1.1/bpa/session/multi/init/payment).
type MultiInitPaymentRequest struct {
	PaymentOptions      *PaymentOptions    `json:"payment_options,omitempty"`
	PaymentDetailsMulti []PaymentMethod    `json:"payment_details_multi"`
	PayoutDetailsMulti  []PaymentMethod    `json:"payout_details_multi"`
	ParticipantDetails  ParticipantDetails `json:"participant_details"`
	SourceOfMoney       *SourceOfMoney     `json:"source_of_money,omitempty"`
	Calculate           Calculate          `json:"calculate"`
	Customer            *Customer          `json:"customer,omitempty"`
	Metadata            json.RawMessage    `json:"metadata,omitempty"`
}

// CalculateRequest asks for a quote (POST /api/v1/bpa/calculate).
type CalculateRequest = Calculate
