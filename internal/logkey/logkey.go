// Package logkey names the log attributes that lines of several components
// share, so that one row, bank session or webhook can be followed through
// ingest, the ledger, the processors, the relay and the sandbox: a line
// about a row carries Batch and Row, and Reference where it is known. A key
// that only one component logs is written where it is logged.
package logkey

const (
	Batch     = "batch"     // the batch id
	Row       = "row"       // the row's number in its batch
	Reference = "reference" // the row's reference from the file
	State     = "state"     // a row's state
	Session   = "session"   // a Bank 131 session id
	HookType  = "hook_type" // a webhook's type
	HookID    = "hook_id"   // a webhook's id: the sha256 of its body
	Error     = "error"
	Component = "component" // the part of a process that logs: intake, processor, bank131...
)
