// Package sandbox is a stateful emulator of the Bank 131 partner API for
// tests, demos and local runs (see shared/bank131-api.md §8). It is a real
// HTTP server that follows the documented protocol: it verifies every
// request's X-PARTNER-SIGN over the raw body with the partner's public key,
// runs the payout session state machine (two-step, single-request or
// automatic confirmation per project), serves cross-border transfers with a
// deterministic rate table, confirm_information and a 3-D Secure page of its
// own, honours X-PARTNER-IDEMPOTENCY-KEY, and sends webhooks signed with its
// bank key, retrying them until they are answered with 200.
//
// Deterministic triggers (card numbers, tokens, amounts) force failures,
// and fault injection (latency, 5xx, dropped connections, 429, duplicate,
// reordered or lost webhooks) exercises the caller's error handling. State
// lives in memory. GET /sandbox/payouts, /sandbox/wallet, /sandbox/report
// and /sandbox/submerchants expose what the bank did; POST /sandbox/wallet
// tops a project's wallet up; /sandbox/widget/ is a stand-in for the bank's
// tokenization widget.
//
// Every behaviour follows a bank page or the SDK; where the bank is silent
// the sandbox offers each plausible behaviour as a mode (Modes, one flag of
// cmd/bank131-sandbox each). README.md in this directory is the conformance
// table; the repository README's "Bank 131 sandbox" section is the user
// guide.
package sandbox
