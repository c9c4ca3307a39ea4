package sandbox

import (
	"flag"
	"fmt"
	"strings"
	"time"
)

// Modes choose among behaviours the bank's pages and its SDK leave open, or
// state in two contradicting ways. Every field's zero value is its default:
// the documented behaviour where there is one, else the behaviour the
// sandbox always had. README.md's conformance table gives the source of
// each behaviour and names its modes; modeSpecs below is the list of the
// string modes with their values (the first is the default) and flags.
type Modes struct {
	// Errors.
	WrongStateCode string // session_wrong_state (DOC-errors) | invalid_request
	ErrorHTTP      string // mapped (500 internal_error, 409 idempotency) | 400 (every SDK test)
	RepeatCancel   string // ok (answer the cancelled session) | session_wrong_state
	UnknownSession string // invalid_request | session_wrong_state

	// Wallet (wallet/balance and insufficient_wallet_balance).
	WalletShortAt   string // call | webhook
	WalletDebit     string // success | hold
	RequestDatetime string // required (sibling API) | optional

	// Idempotency (X-PARTNER-IDEMPOTENCY-KEY); the repeat of a success is
	// Config.IdempotencyReplay.
	IdempotencyFailed   string // release | keep | keep-replay
	IdempotencyHTTP     string // 409 | 400
	IdempotencyScope    string // project | method | partner
	IdempotencyBody     string // ignore | conflict | invalid
	IdempotencyFormat   string // any | short | uuid
	IdempotencyInFlight string // error | wait
	// IdempotencyTTL, if positive, forgets a key that long after its
	// request: a repeat after it is a new request. Zero: keys never expire.
	IdempotencyTTL time.Duration

	// Cross-border transfers (seed 003).
	BPAVersion         string // v1.1 | v1
	ConfirmExchanges   string // array | object
	ConfirmFXRate      string // string | number
	CalculateStatus    string // ok | none
	TransferChecks     string // documented | lenient
	IDNumberSpaces     string // accept | refuse (documented checks)
	ForeignerDocuments string // table | example (documented checks)
	RecipientPhone     string // full | four (documented checks)

	// Webhook bodies.
	HookAmounts     string // int | float
	HookTimes       string // rfc3339 | space
	HookFees        string // none | merchant-fee | full
	HookExtraFields string // off | on

	// Session outcomes.
	FailedSession     string // cancelled | accepted | error
	SessionError      string // succeeds | fails | stays
	ActionsConfirm    string // always | bpa
	EncryptedCardName string // optional | required

	// Tokens, the widget stand-in, X-PARTNER-SUBMERCHANT.
	PublicToken string // unlimited | single-use
	// PublicTokenTTL is how long a single-use public token lives (default
	// 24h, the sibling API's figure).
	PublicTokenTTL time.Duration
	Submerchant    string // ignore | required
	// RecurrentFinishedAt is token/info's finished_at of a recurrent
	// token: a year ahead, or none.
	RecurrentFinishedAt string // year | none

	// The daily report (GET /sandbox/report, the drop folder): the page
	// names the columns and that CSV, XLSX, parts and ZIPs exist, nothing
	// of their form.
	ReportFormat     string // csv | xlsx
	ReportCSV        string // comma (',' and '.') | semicolon-comma (';' and ',') | semicolon-dot
	ReportEncoding   string // utf-8 | utf-8-bom | windows-1251
	ReportXLSXCells  string // text | typed (number and date cells)
	ReportZip        string // off | one (one ZIP of the files) | each (a ZIP per file)
	ReportPartHeader string // every (each part has the header) | first
	ReportAmounts    string // plain (110, as the page's examples) | fixed (110.00)
	ReportDay        string // finished (a line on the day it finished) | created
	ReportZone       string // moscow | utc
	ReportFee        string // on-top (gross = amount + fee) | deducted (gross = amount, payment = amount − fee)
	ReportFeeSign    string // positive | negative
	ReportRefund     string // payout (the payout's id, positive) | refund-id (rf_…) | negative
	ReportCurrency   string // upper | lower
	ReportEmpty      string // header (an empty register is the header) | zero (zero bytes)
	ReportMetadata   string // json (as sent) | quoted (a JSON string of it)
	ReportTransfers  string // exclude | include
	// ReportParts splits a day's report into this many files (0 or 1:
	// one file).
	ReportParts int
}

// Mode values used in code (the full lists are in modeSpecs).
const (
	modeSessionWrongState = "session_wrong_state"
	modeInvalidRequest    = "invalid_request"
	modeMapped            = "mapped"
	mode400               = "400"
	mode409               = "409"
	modeOK                = "ok"
	modeCall              = "call"
	modeWebhook           = "webhook"
	modeSuccess           = "success"
	modeHold              = "hold"
	modeRequired          = "required"
	modeOptional          = "optional"
	modeRelease           = "release"
	modeKeep              = "keep"
	modeKeepReplay        = "keep-replay"
	modeProject           = "project"
	modeMethod            = "method"
	modePartner           = "partner"
	modeIgnore            = "ignore"
	modeConflict          = "conflict"
	modeInvalid           = "invalid"
	modeAny               = "any"
	modeShort             = "short"
	modeUUID              = "uuid"
	modeError             = "error"
	modeWait              = "wait"
	modeV11               = "v1.1"
	modeArray             = "array"
	modeObject            = "object"
	modeString            = "string"
	modeNumber            = "number"
	modeNone              = "none"
	modeLenient           = "lenient"
	modeDocumented        = "documented"
	modeAccept            = "accept"
	modeRefuse            = "refuse"
	modeTable             = "table"
	modeExample           = "example"
	modeFull              = "full"
	modeFour              = "four"
	modeInt               = "int"
	modeFloat             = "float"
	modeRFC3339           = "rfc3339"
	modeSpace             = "space"
	modeMerchantFee       = "merchant-fee"
	modeOff               = "off"
	modeOn                = "on"
	modeCancelled         = "cancelled"
	modeAccepted          = "accepted"
	modeSucceeds          = "succeeds"
	modeFails             = "fails"
	modeStays             = "stays"
	modeAlways            = "always"
	modeBPA               = "bpa"
	modeUnlimited         = "unlimited"
	modeSingleUse         = "single-use"
	modeYear              = "year"
	modeCSV               = "csv"
	modeXLSX              = "xlsx"
	modeComma             = "comma"
	modeSemicolonComma    = "semicolon-comma"
	modeSemicolonDot      = "semicolon-dot"
	modeUTF8              = "utf-8"
	modeUTF8BOM           = "utf-8-bom"
	modeWindows1251       = "windows-1251"
	modeText              = "text"
	modeTyped             = "typed"
	modeOne               = "one"
	modeEach              = "each"
	modeEvery             = "every"
	modeFirst             = "first"
	modePlain             = "plain"
	modeFixed             = "fixed"
	modeFinished          = "finished"
	modeCreated           = "created"
	modeMoscow            = "moscow"
	modeUTC               = "utc"
	modeOnTop             = "on-top"
	modeDeducted          = "deducted"
	modePositive          = "positive"
	modeNegative          = "negative"
	modePayout            = "payout"
	modeRefundID          = "refund-id"
	modeUpper             = "upper"
	modeLower             = "lower"
	modeHeader            = "header"
	modeZero              = "zero"
	modeJSON              = "json"
	modeQuoted            = "quoted"
	modeExclude           = "exclude"
	modeInclude           = "include"
)

// modeSpec is one string mode: its flag, its values (the first is the
// default) and what it chooses.
type modeSpec struct {
	flag   string
	field  func(*Modes) *string
	values []string
	usage  string
}

var modeSpecs = []modeSpec{
	{"wrong-state-code", func(m *Modes) *string { return &m.WrongStateCode },
		[]string{modeSessionWrongState, modeInvalidRequest}, "error code of a call that does not fit the session's state"},
	{"error-http", func(m *Modes) *string { return &m.ErrorHTTP },
		[]string{modeMapped, mode400}, "HTTP status of error answers: mapped (500 for internal_error) or 400 for every bank code"},
	{"repeat-cancel", func(m *Modes) *string { return &m.RepeatCancel },
		[]string{modeOK, modeSessionWrongState}, "session/cancel of a session already cancelled"},
	{"unknown-session", func(m *Modes) *string { return &m.UnknownSession },
		[]string{modeInvalidRequest, modeSessionWrongState}, "error code for a session id the project does not have"},
	{"wallet-short-at", func(m *Modes) *string { return &m.WalletShortAt },
		[]string{modeCall, modeWebhook}, "where insufficient_wallet_balance arrives: the call's answer or the payout's error in payment_finished"},
	{"wallet-debit", func(m *Modes) *string { return &m.WalletDebit },
		[]string{modeSuccess, modeHold}, "when wallet/balance shows a payout: at its success, or held from its start"},
	{"wallet-request-datetime", func(m *Modes) *string { return &m.RequestDatetime },
		[]string{modeRequired, modeOptional}, "wallet/balance request_datetime"},
	{"idempotency-failed", func(m *Modes) *string { return &m.IdempotencyFailed },
		[]string{modeRelease, modeKeep, modeKeepReplay}, "a key whose first request was answered with an error: released, kept (repeat gets idempotency_key_already_exists) or kept with the first error replayed"},
	{"idempotency-http", func(m *Modes) *string { return &m.IdempotencyHTTP },
		[]string{mode409, mode400}, "HTTP status of idempotency_key_already_exists"},
	{"idempotency-scope", func(m *Modes) *string { return &m.IdempotencyScope },
		[]string{modeProject, modeMethod, modePartner}, "namespace of idempotency keys: per project, per project and method, or one for all projects"},
	{"idempotency-body", func(m *Modes) *string { return &m.IdempotencyBody },
		[]string{modeIgnore, modeConflict, modeInvalid}, "a known key with a different body: treated as a repeat, idempotency_key_already_exists, or invalid_request"},
	{"idempotency-format", func(m *Modes) *string { return &m.IdempotencyFormat },
		[]string{modeAny, modeShort, modeUUID}, "accepted key syntax: any, at most 64 of [A-Za-z0-9_-], or a UUID (else invalid_request)"},
	{"idempotency-in-flight", func(m *Modes) *string { return &m.IdempotencyInFlight },
		[]string{modeError, modeWait}, "a repeat while the first request runs: idempotency_key_already_exists, or wait for the first"},
	{"bpa-version", func(m *Modes) *string { return &m.BPAVersion },
		[]string{modeV11, "v1"}, "the one API version that serves bpa/session/multi/init/payment"},
	{"confirm-exchanges", func(m *Modes) *string { return &m.ConfirmExchanges },
		[]string{modeArray, modeObject}, "confirm_information.exchanges as an array (seed example, SDK) or an object (seed table)"},
	{"confirm-fx-rate", func(m *Modes) *string { return &m.ConfirmFXRate },
		[]string{modeString, modeNumber}, "confirm_information fx_rate as a string (seed, SDK) or a number"},
	{"calculate-status", func(m *Modes) *string { return &m.CalculateStatus },
		[]string{modeOK, modeNone}, `bpa/calculate answer with "status":"ok" or without (the seed's example)`},
	{"transfer-checks", func(m *Modes) *string { return &m.TransferChecks },
		[]string{modeDocumented, modeLenient}, "sender checks of multi/init/payment: documented (seed 003's table) or lenient (non-empty document, + phone)"},
	{"id-number-spaces", func(m *Modes) *string { return &m.IDNumberSpaces },
		[]string{modeAccept, modeRefuse}, "documented checks: id_number with spaces (the seed's examples) accepted or refused (its table)"},
	{"foreigner-documents", func(m *Modes) *string { return &m.ForeignerDocuments },
		[]string{modeTable, modeExample}, "documented checks: documents_foreigner needs id_number and issue_date (table) or only issue_date (example)"},
	{"recipient-phone", func(m *Modes) *string { return &m.RecipientPhone },
		[]string{modeFull, modeFour}, "documented checks: a recipient phone needs full_number (table) or all four fields (examples)"},
	{"hook-amounts", func(m *Modes) *string { return &m.HookAmounts },
		[]string{modeInt, modeFloat}, "webhook amounts as integers or as 10000.0"},
	{"hook-times", func(m *Modes) *string { return &m.HookTimes },
		[]string{modeRFC3339, modeSpace}, "webhook times as RFC 3339 or YYYY-MM-DD HH:MM:SS (Moscow)"},
	{"hook-fees", func(m *Modes) *string { return &m.HookFees },
		[]string{modeNone, modeMerchantFee, modeFull}, "fee of a succeeded payout in webhooks: none, amounts.fee.merchant_fee, or amounts{net,gross,fee}"},
	{"hook-extra-fields", func(m *Modes) *string { return &m.HookExtraFields },
		[]string{modeOff, modeOn}, "unknown extra fields in webhooks"},
	{"failed-session", func(m *Modes) *string { return &m.FailedSession },
		[]string{modeCancelled, modeAccepted, modeError}, "session status after a failed payout or transfer"},
	{"session-error", func(m *Modes) *string { return &m.SessionError },
		[]string{modeSucceeds, modeFails, modeStays}, "how the session-error trigger resolves"},
	{"actions-confirm", func(m *Modes) *string { return &m.ActionsConfirm },
		[]string{modeAlways, modeBPA}, "session.actions.confirm after a confirm: on every session or on transfers only"},
	{"encrypted-card-name", func(m *Modes) *string { return &m.EncryptedCardName },
		[]string{modeOptional, modeRequired}, "recipient name for a widget (encrypted_card) payout"},
	{"public-token", func(m *Modes) *string { return &m.PublicToken },
		[]string{modeUnlimited, modeSingleUse}, "public tokens: never expire and reusable, or single use within --public-token-ttl"},
	{"recurrent-finished-at", func(m *Modes) *string { return &m.RecurrentFinishedAt },
		[]string{modeYear, modeNone}, "token/info finished_at of a recurrent token: a year ahead or none"},
	{"submerchant", func(m *Modes) *string { return &m.Submerchant },
		[]string{modeIgnore, modeRequired}, "X-PARTNER-SUBMERCHANT: recorded only, or required on every call (a non-resident partner; missing: authorization_error)"},
	{"report-format", func(m *Modes) *string { return &m.ReportFormat },
		[]string{modeCSV, modeXLSX}, "daily report file format"},
	{"report-csv", func(m *Modes) *string { return &m.ReportCSV },
		[]string{modeComma, modeSemicolonComma, modeSemicolonDot}, "daily report CSV delimiter and decimal separator: ',' and '.', ';' and ',', or ';' and '.'"},
	{"report-encoding", func(m *Modes) *string { return &m.ReportEncoding },
		[]string{modeUTF8, modeUTF8BOM, modeWindows1251}, "daily report CSV encoding"},
	{"report-xlsx-cells", func(m *Modes) *string { return &m.ReportXLSXCells },
		[]string{modeText, modeTyped}, "daily report XLSX cells: all text, or numbers for amounts and date cells for times"},
	{"report-zip", func(m *Modes) *string { return &m.ReportZip },
		[]string{modeOff, modeOne, modeEach}, "daily report ZIPs: none, one ZIP of all files, or one ZIP per file"},
	{"report-part-header", func(m *Modes) *string { return &m.ReportPartHeader },
		[]string{modeEvery, modeFirst}, "with --report-parts: the header in every part, or in the first only"},
	{"report-amounts", func(m *Modes) *string { return &m.ReportAmounts },
		[]string{modePlain, modeFixed}, "daily report amounts as 110 (the page's examples) or 110.00"},
	{"report-day", func(m *Modes) *string { return &m.ReportDay },
		[]string{modeFinished, modeCreated}, "the day a payout's line is in: the day it finished, or was created (transactionDate)"},
	{"report-zone", func(m *Modes) *string { return &m.ReportZone },
		[]string{modeMoscow, modeUTC}, "daily report time zone (times and days)"},
	{"report-fee", func(m *Modes) *string { return &m.ReportFee },
		[]string{modeOnTop, modeDeducted}, "daily report fee model: on top of the payout (gross = amount + fee), or deducted from it"},
	{"report-fee-sign", func(m *Modes) *string { return &m.ReportFeeSign },
		[]string{modePositive, modeNegative}, "daily report fee sign (the acquiring report writes it negative)"},
	{"report-refund", func(m *Modes) *string { return &m.ReportRefund },
		[]string{modePayout, modeRefundID, modeNegative}, "a Refund line: the payout's id with positive amounts, the refund's rf_ id, or negative amounts"},
	{"report-currency", func(m *Modes) *string { return &m.ReportCurrency },
		[]string{modeUpper, modeLower}, "daily report currency code RUB or rub"},
	{"report-empty", func(m *Modes) *string { return &m.ReportEmpty },
		[]string{modeHeader, modeZero}, "an empty register (no operations): the header alone, or zero bytes"},
	{"report-metadata", func(m *Modes) *string { return &m.ReportMetadata },
		[]string{modeJSON, modeQuoted}, "paymentSessionMerchantMetadata as sent, or as a JSON string of it"},
	{"report-transfers", func(m *Modes) *string { return &m.ReportTransfers },
		[]string{modeExclude, modeInclude}, "cross-border transfers in the payout report"},
}

// setDefaults fills empty modes with their defaults and refuses unknown
// values.
func (m *Modes) setDefaults() error {
	for _, spec := range modeSpecs {
		v := spec.field(m)
		switch {
		case *v == "":
			*v = spec.values[0]
		case !contains(spec.values, *v):
			return fmt.Errorf("sandbox: mode %s %q: want %s", spec.flag, *v, strings.Join(spec.values, ", "))
		}
	}
	if m.ReportParts < 0 {
		return fmt.Errorf("sandbox: report parts %d is negative", m.ReportParts)
	}
	if m.IdempotencyTTL < 0 {
		return fmt.Errorf("sandbox: idempotency TTL %s is negative", m.IdempotencyTTL)
	}
	def(&m.PublicTokenTTL, 24*time.Hour)
	return nil
}

// RegisterFlags defines a command-line flag for every mode on fs, starting
// from the defaults; parsing fs fills m.
func (m *Modes) RegisterFlags(fs *flag.FlagSet) {
	for _, spec := range modeSpecs {
		fs.StringVar(spec.field(m), spec.flag, spec.values[0], spec.usage+": "+strings.Join(spec.values, " | "))
	}
	fs.DurationVar(&m.IdempotencyTTL, "idempotency-ttl", 0, "forget an idempotency key this long after its request (0: never)")
	fs.DurationVar(&m.PublicTokenTTL, "public-token-ttl", 24*time.Hour, "lifetime of a public token with --public-token single-use")
	fs.IntVar(&m.ReportParts, "report-parts", 0, "split each day's report into this many files (0 or 1: one file)")
}
