package ledger

import "github.com/payrun/payrun/internal/logkey"

// Log keys of reconcile.go and bankreport.go, kept while issue 10 moves
// those files; the rest of the package writes logkey's shared keys or a
// key of its own in place.
const (
	LogKeyBatch     = logkey.Batch
	LogKeyRow       = logkey.Row
	LogKeyReference = logkey.Reference
	LogKeyState     = logkey.State
	LogKeyFrom      = "from"
	LogKeyTo        = "to"
	LogKeySession   = logkey.Session
	LogKeyReason    = "reason"
	LogKeyCategory  = "category"
	LogKeyCount     = "count"
	LogKeyReport    = "report"
	LogKeyOperation = "operation"
	LogKeyOpened    = "opened"
	LogKeyClosed    = "closed"
	LogKeyNew       = "new"
	LogKeySettled   = "settled"
	LogKeyUnknown   = "unknown"
	LogKeyMatched   = "matched"
	LogKeyExcepted  = "exceptions"
)
