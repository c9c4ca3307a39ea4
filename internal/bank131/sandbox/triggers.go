package sandbox

import (
	"strings"

	"github.com/payrun/payrun/internal/bank131"
)

// outcome is what the sandbox will do with a payout, decided from the
// triggers when the payout starts. The zero value is "everything succeeds".
type outcome struct {
	failCode     string // the payout fails with this code
	stuck        bool   // the payout stays in_progress for ever
	sessionError bool   // session "error" with a failed payout, resolved by Modes.SessionError
	refund       bool   // succeeds, then payment_refunded (Russian bank accounts only)
	fail3DS      bool   // transfers: 3-D Secure fails
	walletShort  bool   // the wallet did not cover it (Modes.WalletShortAt webhook): nothing reserved
}

// Trigger amounts in minor units (kopecks): 131.01 RUB … 131.09 RUB. For
// transfers the amount given in calculate (source or destination) counts.
const (
	AmountRejectLimit   = 13101 // API call answered provider_exceeds_amount_limit
	AmountInternalOnce  = 13102 // first call per metadata answered internal_error (HTTP 500), retries succeed
	AmountFailLimit     = 13103 // payout fails: provider_exceeds_amount_limit
	AmountFailInternal  = 13104 // payout fails: internal_error
	AmountFailExpired   = 13105 // payout fails: bank_card_expired
	AmountStuck         = 13106 // payout stays in_progress
	AmountSessionError  = 13107 // session error (payout failed internal_error), resolved later (Modes.SessionError)
	AmountRefunded      = 13108 // succeeds, then payment_refunded: Russian bank accounts only (DOC-refunds); others just succeed
	AmountFail3DS       = 13109 // transfers: 3-D Secure fails (3DS_error)
	AmountFailNoAccount = 13110 // payout fails: account_not_found

	// Bank-side faults the error page documents ("retry later"): the first
	// call per project and metadata is answered with the code, retries
	// succeed, like AmountInternalOnce.
	AmountWalletInternalOnce  = 13111 // wallet_internal_error
	AmountRoutingInternalOnce = 13112 // routing_internal_error
	AmountNPDInternalOnce     = 13113 // npd_service_internal_error
	AmountWalletShortOnce     = 13114 // insufficient_wallet_balance, as if the wallet were short once
	AmountFailWalletShort     = 13115 // payout fails: insufficient_wallet_balance (in payment_finished)
)

// onceTriggers are the amounts whose first call fails with a code.
var onceTriggers = map[int64]string{
	AmountInternalOnce:        bank131.CodeInternal,
	AmountWalletInternalOnce:  bank131.CodeWalletInternal,
	AmountRoutingInternalOnce: bank131.CodeRoutingInternal,
	AmountNPDInternalOnce:     bank131.CodeNPDInternal,
	AmountWalletShortOnce:     bank131.CodeWalletShort,
}

// Trigger card numbers (bank_card, Luhn-valid). Any other Luhn-valid number
// of 14–19 digits succeeds; a number failing the Luhn check is answered
// card_number_does_not_exist at the call.
const (
	CardRejectNotExist = "4000000000000002" // API call: card_number_does_not_exist
	CardRejectExpired  = "4000000000000010" // API call: bank_card_expired
	CardFailExpired    = "4000000000000028" // payout fails: bank_card_expired
	CardFailNotExist   = "4000000000000036" // payout fails: card_number_does_not_exist
	CardFailLimit      = "4000000000000044" // payout fails: provider_exceeds_amount_limit
	CardFailInternal   = "4000000000000051" // payout fails: internal_error
	CardStuck          = "4000000000000069" // payout stays in_progress
	CardSessionError   = "4000000000000077" // session error, resolved to succeeded later
)

// Trigger token suffixes: a tokenized_card token or an encrypted_card
// number_hash (also the card tokens of transfers) ending in one of these
// (hex, case-insensitive) behaves like the matching card number.
const (
	TokenRejectNotExist = "dead0001"
	TokenRejectExpired  = "dead0002"
	TokenFailExpired    = "fa11ed01"
	TokenFailNotExist   = "fa11ed02"
	TokenFailLimit      = "fa11ed03"
	TokenFailInternal   = "fa11ed04"
	TokenStuck          = "fa11ed05"
	TokenSessionError   = "fa11ed06"
)

// trigger is one row of the trigger table.
type trigger struct {
	reject string // API error code at the call
	out    outcome
}

var cardTriggers = map[string]trigger{
	CardRejectNotExist: {reject: bank131.CodeCardNumberNotExist},
	CardRejectExpired:  {reject: bank131.CodeBankCardExpired},
	CardFailExpired:    {out: outcome{failCode: bank131.CodeBankCardExpired}},
	CardFailNotExist:   {out: outcome{failCode: bank131.CodeCardNumberNotExist}},
	CardFailLimit:      {out: outcome{failCode: bank131.CodeProviderAmountLimit}},
	CardFailInternal:   {out: outcome{failCode: bank131.CodeInternal}},
	CardStuck:          {out: outcome{stuck: true}},
	CardSessionError:   {out: outcome{sessionError: true}},
}

var tokenTriggers = map[string]trigger{
	TokenRejectNotExist: {reject: bank131.CodeCardNumberNotExist},
	TokenRejectExpired:  {reject: bank131.CodeBankCardExpired},
	TokenFailExpired:    {out: outcome{failCode: bank131.CodeBankCardExpired}},
	TokenFailNotExist:   {out: outcome{failCode: bank131.CodeCardNumberNotExist}},
	TokenFailLimit:      {out: outcome{failCode: bank131.CodeProviderAmountLimit}},
	TokenFailInternal:   {out: outcome{failCode: bank131.CodeInternal}},
	TokenStuck:          {out: outcome{stuck: true}},
	TokenSessionError:   {out: outcome{sessionError: true}},
}

var amountTriggers = map[int64]trigger{
	AmountRejectLimit:     {reject: bank131.CodeProviderAmountLimit},
	AmountFailLimit:       {out: outcome{failCode: bank131.CodeProviderAmountLimit}},
	AmountFailInternal:    {out: outcome{failCode: bank131.CodeInternal}},
	AmountFailExpired:     {out: outcome{failCode: bank131.CodeBankCardExpired}},
	AmountStuck:           {out: outcome{stuck: true}},
	AmountSessionError:    {out: outcome{sessionError: true}},
	AmountRefunded:        {out: outcome{refund: true}},
	AmountFail3DS:         {out: outcome{fail3DS: true}},
	AmountFailNoAccount:   {out: outcome{failCode: bank131.CodeAccountNotFound}},
	AmountFailWalletShort: {out: outcome{failCode: bank131.CodeWalletShort}},
}

// cardTokenTrigger maps each trigger card number to the token suffix with
// the same trigger, so a card typed into the widget stand-in gets a
// number_hash that behaves like the card.
var cardTokenTrigger = map[string]string{
	CardRejectNotExist: TokenRejectNotExist,
	CardRejectExpired:  TokenRejectExpired,
	CardFailExpired:    TokenFailExpired,
	CardFailNotExist:   TokenFailNotExist,
	CardFailLimit:      TokenFailLimit,
	CardFailInternal:   TokenFailInternal,
	CardStuck:          TokenStuck,
	CardSessionError:   TokenSessionError,
}

// tokenTrigger finds the trigger of a token by its suffix.
func tokenTrigger(token string) (trigger, bool) {
	t := strings.ToLower(token)
	if len(t) < 8 {
		return trigger{}, false
	}
	tr, ok := tokenTriggers[t[len(t)-8:]]
	return tr, ok
}

// methodTrigger returns the trigger of a payout method's card or tokens.
func methodTrigger(m *bank131.PaymentMethod) (trigger, bool) {
	if m == nil || m.Card == nil {
		return trigger{}, false
	}
	c := m.Card
	switch {
	case c.BankCard != nil:
		tr, ok := cardTriggers[c.BankCard.Number]
		return tr, ok
	case c.TokenizedCard != nil:
		return tokenTrigger(c.TokenizedCard.Token)
	case c.EncryptedCard != nil:
		return tokenTrigger(c.EncryptedCard.NumberHash)
	case c.Recurrent != nil:
		return tokenTrigger(c.Recurrent.Token)
	}
	return trigger{}, false
}

// decide combines the method's and the amount's triggers; the method's
// rejection wins, then the amount's, then the outcomes are merged.
func decide(methods []*bank131.PaymentMethod, amount int64) (reject string, out outcome) {
	var trs []trigger
	for _, m := range methods {
		if tr, ok := methodTrigger(m); ok {
			trs = append(trs, tr)
		}
	}
	if tr, ok := amountTriggers[amount]; ok {
		trs = append(trs, tr)
	}
	for _, tr := range trs {
		if tr.reject != "" {
			return tr.reject, outcome{}
		}
	}
	for _, tr := range trs {
		o := tr.out
		if o.failCode != "" && out.failCode == "" {
			out.failCode = o.failCode
		}
		out.stuck = out.stuck || o.stuck
		out.sessionError = out.sessionError || o.sessionError
		out.refund = out.refund || o.refund
		out.fail3DS = out.fail3DS || o.fail3DS
	}
	return "", out
}
