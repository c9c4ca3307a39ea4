package auth

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
)

func TestRoles(t *testing.T) {
	rs, err := ParseRoles("checker, maker,maker")
	require.NoError(t, err)
	require.Equal(t, Roles{RoleChecker, RoleMaker}, rs)
	require.Equal(t, "checker,maker", rs.String())
	_, err = ParseRoles("maker,boss")
	require.ErrorContains(t, err, `unknown role "boss"`)
	require.Equal(t, Roles{RoleMaker}, rs.Intersect(Roles{RoleMaker, RoleAdmin}))

	tests := []struct {
		role Role
		can  []Permission
		not  []Permission
	}{
		{RoleViewer, []Permission{PermRead, PermAudit}, []Permission{PermUpload, PermValidate, PermApprove, PermCancel, PermAdmin}},
		{RoleMaker, []Permission{PermRead, PermValidate, PermUpload, PermCancel}, []Permission{PermApprove, PermAdmin, PermImportReport}},
		{RoleChecker, []Permission{PermRead, PermApprove, PermCancel, PermImportReport}, []Permission{PermUpload, PermAdmin}},
		{RoleAdmin, []Permission{PermRead, PermAdmin}, []Permission{PermUpload, PermApprove}},
	}
	for _, tc := range tests {
		p := &Principal{Roles: Roles{tc.role}}
		for _, perm := range tc.can {
			require.True(t, p.Can(perm), "%s can %s", tc.role, perm)
		}
		for _, perm := range tc.not {
			require.False(t, p.Can(perm), "%s cannot %s", tc.role, perm)
		}
	}
	var nobody *Principal
	require.False(t, nobody.Can(PermRead))
	require.Equal(t, Roles{RoleMaker, RoleChecker}, RolesFor(PermCancel))
}

func TestPassword(t *testing.T) {
	_, err := HashPassword("short")
	require.ErrorContains(t, err, "at least 12 characters")
	h, err := HashPassword("correct horse battery")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=1,p=2$"), h)
	require.True(t, VerifyPassword("correct horse battery", h))
	require.False(t, VerifyPassword("correct horse batterY", h))
	require.False(t, VerifyPassword("", ""), "a user without a password never signs in with one")
}

func TestToken(t *testing.T) {
	tok, hash, err := NewToken()
	require.NoError(t, err)
	require.True(t, WellFormedToken(tok), tok)
	require.Len(t, tok, 47)
	require.Equal(t, HashToken(tok), hash)
	require.Len(t, hash, 64)
	require.NotContains(t, hash, tok[4:])
	other, _, _ := NewToken()
	require.NotEqual(t, tok, other)
	require.False(t, WellFormedToken("prt_short"))
	require.False(t, WellFormedToken(strings.Replace(tok, "prt_", "xyz_", 1)))
	require.Equal(t, tok[:10]+"…", TokenHint(tok))
}

func TestTOTP(t *testing.T) {
	secret, url, err := NewTOTP("anna")
	require.NoError(t, err)
	require.Contains(t, url, "otpauth://totp/payrun:anna")
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	code, err := TOTPCode(secret, now)
	require.NoError(t, err)
	require.True(t, VerifyTOTP(secret, code, now))
	require.True(t, VerifyTOTP(secret, code, now.Add(30*time.Second)), "one step of skew")
	require.False(t, VerifyTOTP(secret, code, now.Add(2*time.Minute)))
	require.False(t, VerifyTOTP(secret, "000000x", now))
}

func TestLimiter(t *testing.T) {
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	l := NewLimiter(LimiterConfig{NameBurst: 3, NameEvery: 30 * time.Second, AddrBurst: 5, AddrEvery: 10 * time.Second})
	l.Now = func() time.Time { return now }
	for i := 0; i < 3; i++ {
		ok, _ := l.Allow("Anna", "127.0.0.1:5000")
		require.True(t, ok, "attempt %d", i+1)
	}
	ok, wait := l.Allow("anna", "127.0.0.1:5001")
	require.False(t, ok, "the name's bucket is empty, whatever the case and port")
	require.InDelta(t, 30*time.Second, wait, float64(time.Second))
	ok, _ = l.Allow("boris", "127.0.0.1:5002")
	require.True(t, ok, "another name from the same address")
	ok, _ = l.Allow("carl", "127.0.0.1:5003")
	require.True(t, ok)
	ok, wait = l.Allow("dora", "127.0.0.1:5004")
	require.False(t, ok, "the address's bucket is empty")
	require.InDelta(t, 10*time.Second, wait, float64(time.Second))
	ok, _ = l.Allow("dora", "10.1.1.1:1")
	require.True(t, ok, "from another address")
	now = now.Add(31 * time.Second)
	ok, _ = l.Allow("anna", "127.0.0.2:1")
	require.True(t, ok, "one more after the wait")
	l.Succeeded("anna")
	for i := 0; i < 3; i++ {
		ok, _ := l.Allow("anna", "127.0.0.3:1")
		require.True(t, ok, "refilled by a success, attempt %d", i+1)
	}
}

func TestPolicyJudge(t *testing.T) {
	rub := func(s string) int64 { return money.MustParse(s, "RUB").Minor }
	facts := Facts{
		Totals:  money.Totals{"RUB": rub("150000.00"), "USD": 30000},
		Largest: money.Totals{"RUB": rub("52000.00"), "USD": 30000},
		Methods: map[payout.Method]int{payout.MethodCard: 3, payout.MethodTransfer: 1},
	}
	tests := []struct {
		name    string
		policy  Policy
		facts   Facts
		want    int
		reasons []string
	}{
		{"default: every batch", DefaultPolicy(), facts, 1, []string{"every batch needs approval"}},
		{"no rule", Policy{}, facts, 0, nil},
		{"asked by the uploader", Policy{}, Facts{Requested: true}, 1, []string{"the uploader asked for approval"}},
		{"total over", Policy{TotalOver: Limits{"RUB": rub("100000.00")}}, facts, 1, []string{"total 150000.00 RUB is above 100000.00 RUB"}},
		{"total under", Policy{TotalOver: Limits{"RUB": rub("150000.00")}}, facts, 0, nil},
		{"row over", Policy{RowOver: Limits{"RUB": rub("50000.00")}}, facts, 1, []string{"a row of 52000.00 RUB is above 50000.00 RUB"}},
		{"currency absent", Policy{RowOver: Limits{"EUR": 1}}, facts, 0, nil},
		{"transfers", Policy{Methods: []payout.Method{payout.MethodTransfer}}, facts, 1, []string{"1 rows paid by transfer"}},
		{"held repeats hook", Policy{HeldRepeats: true}, Facts{HeldRepeats: 2}, 1, []string{"2 rows repeat a payout already made or in flight"}},
		{"probable duplicates hook", Policy{ProbableDuplicates: true}, Facts{ProbableDuplicates: 1}, 1, []string{"1 rows are probable duplicates"}},
		{"two above", Policy{Every: true, Approvals: 1, TwoAbove: Limits{"RUB": rub("100000.00")}}, facts, 2,
			[]string{"every batch needs approval", "total 150000.00 RUB is above 100000.00 RUB: two checkers"}},
		{"two above, not reached", Policy{Every: true, TwoAbove: Limits{"RUB": rub("200000.00")}}, facts, 1, []string{"every batch needs approval"}},
		{"three by policy", Policy{Every: true, Approvals: 3, TwoAbove: Limits{"RUB": 1}}, facts, 3, []string{"every batch needs approval"}},
		{"two above alone needs nothing", Policy{TwoAbove: Limits{"RUB": 1}}, facts, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := tc.policy.Judge(tc.facts)
			require.Equal(t, tc.want, j.Approvals)
			require.Equal(t, tc.reasons, j.Reasons)
		})
	}
}

func TestParsePolicy(t *testing.T) {
	p, err := ParsePolicy([]byte(`{"every": false, "total_over": {"rub": "1 000 000,00"}, "methods": ["transfer"],
		"approvals": 1, "two_above": {"RUB": "5000000"}, "expire_after": "48h", "totp_for": ["checker", "admin"]}`))
	require.NoError(t, err)
	require.Equal(t, int64(100000000), p.TotalOver["RUB"])
	require.Equal(t, int64(500000000), p.TwoAbove["RUB"])
	require.Equal(t, 48*time.Hour, p.Expiry())
	require.True(t, p.NeedsTOTP(Roles{RoleChecker}))
	require.False(t, p.NeedsTOTP(Roles{RoleMaker}))
	out, err := json.Marshal(p)
	require.NoError(t, err)
	require.Contains(t, string(out), `"total_over":{"RUB":"1000000.00"}`)
	require.Contains(t, string(out), `"expire_after":"48h0m0s"`)
	back, err := ParsePolicy(out)
	require.NoError(t, err)
	require.Equal(t, p, back)

	def, err := ParsePolicy([]byte(`{"every": true}`))
	require.NoError(t, err)
	require.Equal(t, DefaultPolicy(), def, "approvals and expiry default")

	for _, tc := range []struct{ in, err string }{
		{`{"every": true, "aproovals": 2}`, `unknown field "aproovals"`},
		{`{"approvals": 9}`, "approvals: 9 is not between 1 and 5"},
		{`{"total_over": {"XXX": "1"}}`, `total_over: "XXX" is not an ISO 4217 currency`},
		{`{"row_over": {"RUB": "1.234"}}`, "limit RUB 1.234"},
		{`{"methods": ["cash"]}`, `methods: "cash" is not card`},
		{`{"expire_after": "10s"}`, "expire_after: 10s is shorter than a minute"},
		{`{"expire_after": "soon"}`, `duration "soon"`},
		{`{"totp_for": ["boss"]}`, `unknown role "boss"`},
	} {
		_, err := ParsePolicy([]byte(tc.in))
		require.ErrorContains(t, err, tc.err, tc.in)
	}
}

func TestAuditChain(t *testing.T) {
	at := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	var entries []Entry
	prev := GenesisHash
	for i, act := range []Action{ActSignIn, ActUpload, ActApprove} {
		e := NewEntry(Actor{UserID: 2, Name: "anna", Via: ViaSession, Remote: "127.0.0.1:5000"}, act, OutcomeOK)
		e.Seq, e.At, e.Batch, e.Prev = int64(i+1), at.Add(time.Duration(i)*time.Second), "b0123456789abcdef0123", prev
		e.Hash = ChainHash(e)
		prev = e.Hash
		entries = append(entries, e)
	}
	require.NoError(t, Verify(GenesisHash, entries))
	require.NoError(t, Verify(entries[0].Hash, entries[1:]))

	changed := append([]Entry(nil), entries...)
	changed[1].Outcome = OutcomeRefused
	require.ErrorContains(t, Verify(GenesisHash, changed), "audit entry 2: its hash does not match")

	removed := []Entry{entries[0], entries[2]}
	require.ErrorContains(t, Verify(GenesisHash, removed), "entry 3 follows 1")

	rehashed := append([]Entry(nil), entries...)
	rehashed[1].Detail = "edited"
	rehashed[1].Hash = ChainHash(rehashed[1])
	require.ErrorContains(t, Verify(GenesisHash, rehashed), "audit entry 3: its previous hash")

	// Fields cannot be shifted into each other.
	a := entries[0]
	b := a
	a.Batch, a.Target = "ab", "c"
	b.Batch, b.Target = "a", "bc"
	require.NotEqual(t, ChainHash(a), ChainHash(b))
}
