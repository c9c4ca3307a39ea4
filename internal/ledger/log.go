package ledger

// Log keys: every line about a row carries batch and reference.
const (
	LogKeyBatch     = "batch"
	LogKeyRow       = "row"
	LogKeyReference = "reference"
	LogKeyState     = "state"
	LogKeyFrom      = "from"
	LogKeyTo        = "to"
	LogKeyGen       = "gen"
	LogKeySession   = "session"
	LogKeyDecision  = "decision"
	LogKeyReason    = "reason"
	LogKeyCategory  = "category"
	LogKeyRows      = "rows"
	LogKeyCount     = "count"
	LogKeySeq       = "seq"
	LogKeyHookID    = "hook_id"
	LogKeyHookType  = "hook_type"
	LogKeyStatus    = "status"
	LogKeyError     = "error"
	LogKeyDB        = "db"
	LogKeyComponent = "component"
	LogKeyReport    = "report"
	LogKeyOperation = "operation"
	LogKeyHTTP      = "http"
)
