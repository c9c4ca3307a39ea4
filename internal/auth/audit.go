package auth

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"
)

// Action is what an audit entry records.
type Action string

// The actions payrun records. Every human action is one of them.
const (
	ActSignIn       Action = "signin"
	ActSignOut      Action = "signout"
	ActUpload       Action = "upload"
	ActValidate     Action = "validate"
	ActApprove      Action = "approve"
	ActReject       Action = "reject"
	ActCancel       Action = "cancel"
	ActHold         Action = "hold"
	ActResume       Action = "resume"
	ActReleaseHeld  Action = "release_held"
	ActDropHeld     Action = "drop_held"
	ActResubmit     Action = "resubmit"
	ActException    Action = "exception"
	ActImportReport Action = "import_report"
	ActExpire       Action = "expire"  // the ledger: a batch not approved in time
	ActArchive      Action = "archive" // ledger archive: a finished batch's rows moved to an archive file
	ActRestore      Action = "restore" // ledger restore: the record brought back from its replica
	ActUserAdd      Action = "user_add"
	ActUserDisable  Action = "user_disable"
	ActUserEnable   Action = "user_enable"
	ActUserPassword Action = "user_password"
	ActUserRoles    Action = "user_roles"
	ActUserTOTP     Action = "user_totp"
	ActTokenCreate  Action = "token_create"
	ActTokenRevoke  Action = "token_revoke"
	ActPolicySet    Action = "policy_set"
	ActDenied       Action = "denied" // a request refused for its role or credentials
	// ActRecipientLink: a maker issued a recipient link for a widget row;
	// ActCardCaptured: the recipient's card came through that link (the
	// entry names the link, Via ViaLink, not a user).
	ActRecipientLink Action = "recipient_link"
	ActCardCaptured  Action = "card_captured"
	// ActDownload: a person downloaded a batch's report (Target names the
	// file: report.csv, report-summary.csv, report.xlsx, report.json,
	// transfers) or the audit log (audit.csv, audit.json); Detail the
	// language, layout, or filter.
	ActDownload Action = "download"
)

// Outcome is how an action ended.
type Outcome string

// Outcomes.
const (
	OutcomeOK      Outcome = "ok"      // done
	OutcomeRefused Outcome = "refused" // refused by a rule (role, policy, stale totals, limiter, wrong password)
	OutcomeFailed  Outcome = "failed"  // payrun could not do it
)

// Entry is one line of the audit log: who, when, from where, what, and
// how it ended. The log is append-only; each entry's Hash covers the
// previous entry's hash and its own fields, so an entry changed, removed
// or inserted after the fact breaks the chain (Verify).
type Entry struct {
	Seq     int64     `json:"seq"`
	At      time.Time `json:"at"`
	UserID  int64     `json:"user_id,omitempty"`
	User    string    `json:"user"`
	Via     Via       `json:"via"`
	Remote  string    `json:"remote,omitempty"`
	Action  Action    `json:"action"`
	Batch   string    `json:"batch,omitempty"`
	Target  string    `json:"target,omitempty"` // a user, token, policy version, row, file
	Outcome Outcome   `json:"outcome"`
	Detail  string    `json:"detail,omitempty"` // the reason given, or why it was refused
	Prev    string    `json:"prev_hash"`        // hex
	Hash    string    `json:"hash"`             // hex
}

// NewEntry starts an entry for an action by a.
func NewEntry(a Actor, act Action, outcome Outcome) Entry {
	return Entry{UserID: a.UserID, User: a.Name, Via: a.Via, Remote: a.Remote, Action: act, Outcome: outcome}
}

// AuditTimeLayout is how At is hashed (UTC, nanoseconds, fixed width).
const AuditTimeLayout = "2006-01-02T15:04:05.000000000Z"

// GenesisHash is the Prev of the first entry: 32 zero bytes.
var GenesisHash = hex.EncodeToString(make([]byte, sha256.Size))

// ChainHash computes an entry's hash from its fields and Prev:
// SHA-256 over Prev's bytes and every field, each length-prefixed, so no
// two different entries hash alike.
func ChainHash(e Entry) string {
	h := sha256.New()
	prev, _ := hex.DecodeString(e.Prev)
	h.Write(prev)
	var n [8]byte
	for _, f := range []string{
		strconv.FormatInt(e.Seq, 10), e.At.UTC().Format(AuditTimeLayout), strconv.FormatInt(e.UserID, 10), e.User,
		string(e.Via), e.Remote, string(e.Action), e.Batch, e.Target, string(e.Outcome), e.Detail,
	} {
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Verify checks a run of consecutive entries: each one's Prev is the hash
// before it (prev for the first; GenesisHash when the run starts at the
// log's first entry), its Seq follows, and its Hash is its ChainHash. It
// names the first entry that does not hold.
func Verify(prev string, entries []Entry) error {
	for i, e := range entries {
		if i > 0 && e.Seq != entries[i-1].Seq+1 {
			return fmt.Errorf("audit entry %d follows %d: entries are missing", e.Seq, entries[i-1].Seq)
		}
		if e.Prev != prev {
			return fmt.Errorf("audit entry %d: its previous hash is not the hash of the entry before it", e.Seq)
		}
		if ChainHash(e) != e.Hash {
			return fmt.Errorf("audit entry %d: its hash does not match its content (changed after it was written)", e.Seq)
		}
		prev = e.Hash
	}
	return nil
}
