package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
)

// Policy is the approval policy: which batches need approval, by how many
// distinct checkers, how long a batch may wait for it, and who must sign
// in with a second factor. The ledger keeps every version (a change is a
// new version, never an edit) and records on each batch the version it
// was judged by when it was sealed.
type Policy struct {
	Version   int       `json:"version,omitempty"`    // given by the ledger when saved
	CreatedAt time.Time `json:"created_at,omitzero"`  // when it was saved
	CreatedBy string    `json:"created_by,omitempty"` // who saved it

	// Every: every batch needs approval. Otherwise a batch needs it when
	// one of the rules below matches (or its uploader asked for it).
	Every bool `json:"every"`
	// TotalOver: the batch's total in a currency is above the limit.
	TotalOver Limits `json:"total_over,omitempty"`
	// RowOver: a row's amount in a currency is above the limit.
	RowOver Limits `json:"row_over,omitempty"`
	// Methods: a row is paid by one of these ("transfer" is every
	// cross-border transfer).
	Methods []payout.Method `json:"methods,omitempty"`
	// HeldRepeats and ProbableDuplicates: a row repeats one already paid
	// or in flight, or probably duplicates one (the duplicate guard fills
	// Facts; until it exists both counts are 0).
	HeldRepeats        bool `json:"held_repeats,omitempty"`
	ProbableDuplicates bool `json:"probable_duplicates,omitempty"`

	// Approvals is how many distinct checkers a batch that needs approval
	// needs (at least 1); TwoAbove raises it to at least two when a
	// currency's total is above the limit.
	Approvals int    `json:"approvals"`
	TwoAbove  Limits `json:"two_above,omitempty"`
	// ExpireAfter: a batch not approved this long after it was sealed
	// expires (its rows are cancelled; nothing of it is paid).
	ExpireAfter Duration `json:"expire_after"`
	// TOTPFor: users holding one of these roles must sign in with a TOTP
	// code (tokens are not affected).
	TOTPFor Roles `json:"totp_for,omitempty"`
}

// DefaultExpireAfter is how long a batch waits for approval unless the
// policy says otherwise.
const DefaultExpireAfter = 72 * time.Hour

// MaxApprovals bounds Policy.Approvals.
const MaxApprovals = 5

// DefaultPolicy is the policy of a ledger that never had one: one approval
// for every batch, expiring after 72 hours.
func DefaultPolicy() Policy {
	return Policy{Every: true, Approvals: 1, ExpireAfter: Duration(DefaultExpireAfter)}
}

// Facts are what the policy judges a sealed batch by.
type Facts struct {
	Totals             money.Totals // per currency
	Largest            money.Totals // the largest row per currency
	Methods            map[payout.Method]int
	HeldRepeats        int  // rows held as repeats (duplicate guard)
	ProbableDuplicates int  // rows flagged as probable duplicates (duplicate guard)
	Requested          bool // the uploader asked for approval (manifest require_approval)
}

// Judgement is what the policy says about a batch.
type Judgement struct {
	Approvals int      // distinct checkers needed; 0: none
	Reasons   []string // why approval is needed, for the checker
}

// Judge applies the policy to a batch.
func (p Policy) Judge(f Facts) Judgement {
	var reasons []string
	if p.Every {
		reasons = append(reasons, "every batch needs approval")
	}
	if f.Requested {
		reasons = append(reasons, "the uploader asked for approval")
	}
	for _, c := range p.TotalOver.currencies() {
		if f.Totals[c] > p.TotalOver[c] {
			reasons = append(reasons, fmt.Sprintf("total %s is above %s", money.New(f.Totals[c], c), money.New(p.TotalOver[c], c)))
		}
	}
	for _, c := range p.RowOver.currencies() {
		if f.Largest[c] > p.RowOver[c] {
			reasons = append(reasons, fmt.Sprintf("a row of %s is above %s", money.New(f.Largest[c], c), money.New(p.RowOver[c], c)))
		}
	}
	for _, m := range p.Methods {
		if f.Methods[m] > 0 {
			reasons = append(reasons, fmt.Sprintf("%d rows paid by %s", f.Methods[m], m))
		}
	}
	if p.HeldRepeats && f.HeldRepeats > 0 {
		reasons = append(reasons, fmt.Sprintf("%d rows repeat a payout already made or in flight", f.HeldRepeats))
	}
	if p.ProbableDuplicates && f.ProbableDuplicates > 0 {
		reasons = append(reasons, fmt.Sprintf("%d rows are probable duplicates", f.ProbableDuplicates))
	}
	if len(reasons) == 0 {
		return Judgement{}
	}
	n := max(p.Approvals, 1)
	for _, c := range p.TwoAbove.currencies() {
		if f.Totals[c] > p.TwoAbove[c] && n < 2 {
			n = 2
			reasons = append(reasons, fmt.Sprintf("total %s is above %s: two checkers", money.New(f.Totals[c], c), money.New(p.TwoAbove[c], c)))
		}
	}
	return Judgement{Approvals: n, Reasons: reasons}
}

// Expiry is how long a batch may wait for approval.
func (p Policy) Expiry() time.Duration {
	if p.ExpireAfter <= 0 {
		return DefaultExpireAfter
	}
	return time.Duration(p.ExpireAfter)
}

// NeedsTOTP reports whether a user with roles must sign in with a code.
func (p Policy) NeedsTOTP(roles Roles) bool {
	for _, r := range p.TOTPFor {
		if roles.Has(r) {
			return true
		}
	}
	return false
}

// Check refuses a policy that cannot be applied as written, saying where.
func (p Policy) Check() error {
	var errs []error
	if p.Approvals < 0 || p.Approvals > MaxApprovals {
		errs = append(errs, fmt.Errorf("approvals: %d is not between 1 and %d", p.Approvals, MaxApprovals))
	}
	for name, l := range map[string]Limits{"total_over": p.TotalOver, "row_over": p.RowOver, "two_above": p.TwoAbove} {
		for _, c := range l.currencies() {
			if !money.Known(c) {
				errs = append(errs, fmt.Errorf("%s: %q is not an ISO 4217 currency", name, c))
			}
			if l[c] < 0 {
				errs = append(errs, fmt.Errorf("%s: %s is negative", name, c))
			}
		}
	}
	for _, m := range p.Methods {
		if !slices.Contains(payout.Methods, m) {
			errs = append(errs, fmt.Errorf("methods: %q is not card, token, encrypted_card or transfer", m))
		}
	}
	if p.ExpireAfter != 0 && time.Duration(p.ExpireAfter) < time.Minute {
		errs = append(errs, fmt.Errorf("expire_after: %s is shorter than a minute", time.Duration(p.ExpireAfter)))
	}
	for _, r := range p.TOTPFor {
		if !slices.Contains(AllRoles, r) {
			errs = append(errs, fmt.Errorf("totp_for: unknown role %q", r))
		}
	}
	return errors.Join(errs...)
}

// ParsePolicy reads a policy from JSON, refusing unknown fields (a typo
// must not quietly drop a rule), and checks it.
func ParsePolicy(data []byte) (Policy, error) {
	var p Policy
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Policy{}, fmt.Errorf("policy: %w", err)
	}
	if p.Approvals == 0 {
		p.Approvals = 1
	}
	if p.ExpireAfter == 0 {
		p.ExpireAfter = Duration(DefaultExpireAfter)
	}
	p.TOTPFor = p.TOTPFor.norm()
	if err := p.Check(); err != nil {
		return Policy{}, fmt.Errorf("policy: %w", err)
	}
	return p, nil
}

// Limits are amounts per currency, written as finance writes them:
// {"RUB": "1000000.00"}; held in minor units.
type Limits map[string]int64

func (l Limits) currencies() []string {
	out := make([]string, 0, len(l))
	for c := range l {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// MarshalJSON writes each limit as a decimal string.
func (l Limits) MarshalJSON() ([]byte, error) {
	m := make(map[string]string, len(l))
	for c, v := range l {
		m[c] = money.New(v, c).Decimal()
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads decimal strings (or numbers, taken as major units).
func (l *Limits) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	out := Limits{}
	for c, raw := range m {
		cur := strings.ToUpper(strings.TrimSpace(c))
		s := strings.Trim(string(raw), `"`)
		a, err := money.Parse(s, cur)
		if err != nil {
			return fmt.Errorf("limit %s %s: %w", c, s, err)
		}
		out[cur] = a.Minor
	}
	*l = out
	return nil
}

// Duration is a time.Duration written as Go writes it ("72h", "30m").
type Duration time.Duration

// MarshalJSON writes the duration as text.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "72h" (or a number of seconds).
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var secs int64
		if err2 := json.Unmarshal(b, &secs); err2 != nil {
			return fmt.Errorf("duration %s: use text such as \"72h\"", b)
		}
		*d = Duration(time.Duration(secs) * time.Second)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: use text such as \"72h\"", s)
	}
	*d = Duration(v)
	return nil
}
