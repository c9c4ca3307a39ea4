package ledger

import (
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
)

// The compact forms of values the ledger stores in few bytes (issue 17,
// migrations 0140 and 0141). Each has its text back by a generated column
// or a view, byte for byte; the SQL triggers encode the same way.

// hookKey is a webhook id as stored (hook_events.h): the 32 bytes of a
// lowercase hex SHA-256 (the ids hookrelay gives), else the id itself.
func hookKey(id string) any {
	if len(id) == 64 {
		if b, err := hex.DecodeString(id); err == nil && hex.EncodeToString(b) == id {
			return b
		}
	}
	return id
}

// hookByID is the SQL condition on hook_events that finds the webhook
// whose stored id (hookKey) is the expression key: by the index of the
// id's first 8 bytes, then the whole id (migration 0170).
func hookByID(key string) string {
	return `substr(h, 1, 8) = substr(` + key + `, 1, 8) AND h = ` + key
}

// hookRef is the SQL of a webhook id as a move or a gate check of row
// row of batch key bk stores it (migration 0171; each argument an SQL
// expression, key the id's hookKey): hook_events' integer id when the
// ledger holds that webhook for that row, else key.
func hookRef(key, bk, row string) string {
	return `CASE WHEN ` + key + ` = '' THEN '' ELSE coalesce((SELECT e.id FROM hook_events e WHERE substr(e.h, 1, 8) = substr(` +
		key + `, 1, 8) AND e.h = ` + key + ` AND e.bk = ` + bk + ` AND e.ref_row = ` + row + `), ` + key + `) END`
}

// timeKey is a time as stored (hook_events.received): Unix
// nanoseconds when they give back the same text (formatTime), else the
// text.
func timeKey(t time.Time) any {
	s := formatTime(t)
	if u := t.UTC(); u.Year() >= 1970 && u.Year() < 2262 && formatTime(time.Unix(0, u.UnixNano())) == s {
		return u.UnixNano()
	}
	return s
}

// The writers that log a move of many rows of one batch at once (a
// release, a cancel, a resume: one INSERT … SELECT of up to a batch's
// rows) write moves directly, encoded as the view's trigger would, rather
// than through the trigger: it runs once per row and costs ~4× the 0139
// table's insert (BenchmarkReviewTransitionsInsert, bench/README.md).

// movesInsert heads such an INSERT … SELECT; movesSelect gives the
// SELECT's list for rows of batch ?1 from a table with row_no, gen,
// attempt: from and to are SQL expressions of a state's name (a column,
// or a parameter), gen the expression of the move's gen, session that of
// its session id; the constants come from keysForMoves as ?1 … ?6 (the
// statement's own parameters are ?7 on).
const movesInsert = `INSERT INTO moves (bk, row_no, fs, ts, t, src, worker, gen, attempt, session_id, payout_id, idem,
	error_code, reason, hook, hook_type, detail, note) `

func movesSelect(from, to, gen, session string) string {
	return `SELECT ?1, row_no, ` + stateCode(from) + `, ` + stateCode(to) + `, ?2, ?3, ?4, ` + gen + `, attempt, ` +
		idCode(session, "ps_") + `, '', '', 0, '', '', 0, ?5, ?6`
}

// idCode is the SQL of a bank id as moves stores it (migration 0162): n
// when the id is prefix || n, else the id.
func idCode(expr, prefix string) string {
	return `CASE WHEN ` + expr + ` GLOB '` + prefix + `*' AND '` + prefix + `' || CAST(substr(` + expr + `, 4) AS INTEGER) = ` + expr +
		` THEN CAST(substr(` + expr + `, 4) AS INTEGER) ELSE ` + expr + ` END`
}

// stateCode is the SQL of a state's code in moves (move_names 1-18), else
// its name.
func stateCode(expr string) string {
	return `coalesce((SELECT k FROM move_names WHERE name = ` + expr + ` AND k BETWEEN 1 AND 18), ` + expr + `)`
}

// internKeys makes sure batch has a key in batch_keys and each non-empty
// word one in move_names, for the compact tables' writers (moves, sess,
// gates) to look them up in the statement that follows.
//
// A new batch key's t0 (migration 0175) is the transaction's time, which
// the batch's moves keep their times relative to.
func internKeys(tx *Tx, batch string, words ...string) error {
	var t0 int64
	if t, ok := timeKey(tx.Now).(int64); ok {
		t0 = t
	}
	if _, err := tx.Exec(`INSERT OR IGNORE INTO batch_keys (batch_id, t0) VALUES (?, ?)`, batch, t0); err != nil {
		return err
	}
	for _, w := range words {
		if w == "" {
			continue
		}
		if _, err := tx.Exec(`INSERT OR IGNORE INTO move_names (name) VALUES (?)`, w); err != nil {
			return err
		}
	}
	return nil
}

// keysForMoves returns the named constants of movesSelect for moves of
// batch at the time at from source by worker with detail: the batch's key,
// the time (less the batch's t0), the source's code, the worker's key (interned), the detail's
// key when it is a fixed one (else 0) and the note.
func keysForMoves(tx *Tx, batch string, at time.Time, source ledgerapi.Source, worker, detail string) ([]any, error) {
	if err := internKeys(tx, batch, worker); err != nil {
		return nil, err
	}
	var bk, t0, wk, src, d int64
	var srcText, note string
	if err := tx.QueryRow(`SELECT k, t0,
		CASE WHEN ?2 = '' THEN 0 ELSE (SELECT k FROM move_names WHERE name = ?2) END,
		coalesce((SELECT k FROM move_names WHERE name = ?3 AND k BETWEEN 21 AND 28), 0),
		coalesce((SELECT k FROM move_names WHERE name = ?4 AND k BETWEEN 100 AND 999), 0)
		FROM batch_keys WHERE batch_id = ?1`,
		batch, worker, string(source), detail).Scan(&bk, &t0, &wk, &src, &d); err != nil {
		return nil, err
	}
	// The time less the batch's t0 (migration 0175); a time kept as text as it is.
	t := timeKey(at)
	if n, ok := t.(int64); ok {
		t = n - t0
	}
	var s any = src
	if src == 0 {
		srcText = string(source)
		s = srcText
	}
	if d == 0 {
		note = detail
	}
	return []any{bk, t, s, wk, d, note}, nil
}

// observedPhrases are the fixed phrases of ledgerapi.Observed's JSON that
// gate_checks.observed stores as one byte each (migration 0161), in the
// order they are replaced (a phrase before any phrase inside it).
var observedPhrases = strings.NewReplacer(
	`"},"destination":{"minor":`, "\x11", `"},"source":{"minor":`, "\x10", `","commission":{"minor":`, "\x0f",
	`"},"recipient":"`, "\x03", `"},"token":"`, "\x05", `"},"last4":"`, "\x08", `"}`, "\x06",
	`","fx_rate":"`, "\x0e", `","token":"`, "\x04", `","last4":"`, "\x07",
	`{"amount":{"minor":`, "\x01", `,"currency":"`, "\x02")

// observedKey is an Observed's JSON as gates stores it: the phrases as
// their bytes (a BLOB), unless the text holds one of those bytes (JSON
// never does), then the text.
//
// Any text with some of its phrases as their bytes reads back as it was
// (each byte stands for one phrase and the phrases hold none of them), so
// this and the view's trigger (nested replace()) need not pick the same
// occurrences; for Go's JSON of an Observed they do (TestGatesWrittenDirectly).
func observedKey(obs string) any {
	if strings.ContainsAny(obs, "\x01\x02\x03\x04\x05\x06\x07\x08\x0e\x0f\x10\x11") {
		return obs
	}
	return []byte(observedPhrases.Replace(obs))
}

// gateDecisionKey is a gate decision as gates stores it (migration 0161).
func gateDecisionKey(d ledgerapi.Decision) any {
	switch d {
	case ledgerapi.DecisionConfirm:
		return 1
	case ledgerapi.DecisionCancel:
		return 2
	case ledgerapi.DecisionIgnore:
		return 3
	case ledgerapi.DecisionWait:
		return 4
	}
	return string(d)
}

// sourceKeys are the sources' codes in moves, gates (move_names 21-28).
var sourceKeys = map[ledgerapi.Source]int64{
	ledgerapi.SourceProcessor: 21, ledgerapi.SourceWebhook: 22, ledgerapi.SourceStatus: 23, ledgerapi.SourceReport: 24,
	ledgerapi.SourceSweeper: 25, ledgerapi.SourceOperator: 26, ledgerapi.SourceLedger: 27, ledgerapi.SourceDead: 28,
}

// stateKeys are the row states' codes in moves and sess (move_names 1-18).
var stateKeys = map[string]int64{
	"received": 1, "scheduled": 2, "awaiting_approval": 3, "queued": 4, "claimed": 5, "quoted": 6, "opening": 7,
	"session_open": 8, "starting": 9, "payout_started": 10, "confirming": 11, "confirmed": 12, "action_required": 13,
	"in_doubt": 14, "succeeded": 15, "failed": 16, "cancelled": 17, "returned": 18,
}

// stateKey is a state as moves and sess store it: its code, else its name.
func stateKey(s string) any {
	if k, ok := stateKeys[s]; ok {
		return k
	}
	return s
}

// bankIDKey is a bank id as moves and hook_events store it (migrations
// 0162, 0163; idCode in SQL): n when the id is prefix || n and n, as
// decimal text, reads back as the id, else the id.
func bankIDKey(id, prefix string) any {
	if rest, ok := strings.CutPrefix(id, prefix); ok {
		if n, err := strconv.ParseInt(rest, 10, 64); err == nil && prefix+strconv.FormatInt(n, 10) == id {
			return n
		}
	}
	return id
}

// sessionStatusKey and payoutStatusKey are a webhook's statuses as
// hook_events stores them (migration 0163): the code of a status the bank
// documents (bank131.Session*, bank131.Payout*), else the text.
func sessionStatusKey(s string) any {
	switch s {
	case "created":
		return 1
	case "in_progress":
		return 2
	case "accepted":
		return 3
	case "cancelled":
		return 4
	case "error":
		return 5
	}
	return s
}

// hookTypeKey is a webhook's type as hook_events stores it (migration
// 0173): the code of a type the bank documents (bank131.Hook*), else the
// text.
func hookTypeKey(t string) any {
	switch t {
	case "ready_to_confirm":
		return 1
	case "payment_finished":
		return 2
	case "payment_refunded":
		return 3
	case "action_required":
		return 4
	}
	return t
}

func payoutStatusKey(s string) any {
	switch s {
	case "in_progress":
		return 1
	case "pending":
		return 2
	case "succeeded":
		return 3
	case "failed":
		return 4
	}
	return s
}
