package bank131

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAmountReadsNumbersLeniently(t *testing.T) {
	tests := []struct {
		body    string
		want    Amount
		wantErr bool
	}{
		{`{"amount":10000,"currency":"rub"}`, Amount{10000, "rub"}, false},
		{`{"amount":10000.0,"currency":"rub"}`, Amount{10000, "rub"}, false},
		{`{"amount":1e4,"currency":"RUB"}`, Amount{10000, "RUB"}, false},
		{`{"amount":1.0E+4,"currency":"RUB"}`, Amount{10000, "RUB"}, false},
		{`{"amount":null,"currency":"rub"}`, Amount{0, "rub"}, false},
		{`{"currency":"rub"}`, Amount{0, "rub"}, false},
		{`{"amount":10000.5,"currency":"rub"}`, Amount{}, true},
		{`{"amount":"10000","currency":"rub"}`, Amount{}, true},
		{`{"amount":1e40,"currency":"rub"}`, Amount{}, true},
		{`{"amount":true,"currency":"rub"}`, Amount{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			var a Amount
			err := json.Unmarshal([]byte(tt.body), &a)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, a)
		})
	}
	// Writing stays an integer.
	b, err := json.Marshal(Amount{10000, "rub"})
	require.NoError(t, err)
	require.JSONEq(t, `{"amount":10000,"currency":"rub"}`, string(b))
}

func TestCalcAmountReadsNumbersLeniently(t *testing.T) {
	for body, want := range map[string]CalcAmount{
		`{"amount":357912,"currency":"RUB"}`:   Given(357912, "RUB"),
		`{"amount":357912.0,"currency":"RUB"}`: Given(357912, "RUB"),
		`{"amount":null,"currency":"TRY"}`:     ToCompute("TRY"),
		`{"currency":"TRY"}`:                   ToCompute("TRY"),
	} {
		var got CalcAmount
		require.NoError(t, json.Unmarshal([]byte(body), &got), body)
		require.Equal(t, want, got, body)
	}
	var c CalcAmount
	require.Error(t, json.Unmarshal([]byte(`{"amount":1.5,"currency":"RUB"}`), &c))
}

func TestTimeForms(t *testing.T) {
	msk := ZonelessLocation
	tests := []struct {
		text string
		want time.Time
	}{
		{"2022-11-15T15:38:50.255803Z", time.Date(2022, 11, 15, 15, 38, 50, 255803000, time.UTC)},
		{"2018-05-27T02:03:00.000000Z", time.Date(2018, 5, 27, 2, 3, 0, 0, time.UTC)},
		{"2024-04-10T19:53:00+03:00", time.Date(2024, 4, 10, 16, 53, 0, 0, time.UTC)},
		{"2022-11-15 15:38:50", time.Date(2022, 11, 15, 15, 38, 50, 0, msk)},
		{"2022-11-15 15:38:50.255803", time.Date(2022, 11, 15, 15, 38, 50, 255803000, msk)},
		{"2022-11-15T15:38:50", time.Date(2022, 11, 15, 15, 38, 50, 0, msk)},
		{"2022-11-15 15:38:50Z", time.Date(2022, 11, 15, 15, 38, 50, 0, time.UTC)},
		{"2022-11-15 15:38:50+03:00", time.Date(2022, 11, 15, 12, 38, 50, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			var v Time
			require.NoError(t, json.Unmarshal([]byte(`"`+tt.text+`"`), &v))
			require.True(t, tt.want.Equal(v.Time), "got %s, want %s", v.Time, tt.want)
		})
	}
	for _, bad := range []string{`"15.11.2022 15:38:50"`, `"2022-11-15"`, `"yesterday"`, `1668526730`, `"2022-13-15 15:38:50"`} {
		var v Time
		require.Error(t, json.Unmarshal([]byte(bad), &v), bad)
	}
}

// spaceTimes rewrites every RFC 3339 UTC timestamp of a body into the
// zone-less "YYYY-MM-DD HH:MM:SS" form in Moscow time.
var rfc3339Z = regexp.MustCompile(`"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)"`)

func spaceTimes(t *testing.T, body []byte) []byte {
	return rfc3339Z.ReplaceAllFunc(body, func(m []byte) []byte {
		v, err := time.Parse(time.RFC3339Nano, string(m[1:len(m)-1]))
		require.NoError(t, err)
		return []byte(`"` + v.In(ZonelessLocation).Format("2006-01-02 15:04:05") + `"`)
	})
}

// floatAmounts rewrites every integer "amount" of a body as N.0.
var intAmount = regexp.MustCompile(`("amount"\s*:\s*)(\d+)([,\s}])`)

func floatAmounts(body []byte) []byte { return intAmount.ReplaceAll(body, []byte("${1}${2}.0${3}")) }

// TestSeedWebhooksInOtherForms reads the seeds' webhooks with float amounts
// and zone-less times: the same facts as the bodies as printed.
func TestSeedWebhooksInOtherForms(t *testing.T) {
	for _, file := range []string{"s0_ready_to_confirm", "s1_payment_finished", "s2_ready_to_confirm", "s3_ready_to_confirm", "s3_status_response"} {
		t.Run(file, func(t *testing.T) {
			raw := readFile(t, "seeds/"+file+".json")
			var want, got Webhook
			require.NoError(t, json.Unmarshal(raw, &want))
			alt := floatAmounts(spaceTimes(t, raw))
			require.NotEqual(t, string(raw), string(alt), "the rewrite changed something")
			require.Contains(t, string(alt), ".0")
			require.NoError(t, json.Unmarshal(alt, &got))
			if want.Type != "" {
				_, err := ParseWebhook(alt)
				require.NoError(t, err)
			}
			require.Equal(t, sessionFacts(want.Session), sessionFacts(got.Session))
			wx, err := want.Exchanges()
			require.NoError(t, err)
			gx, err := got.Exchanges()
			require.NoError(t, err)
			require.Equal(t, wx, gx)
		})
	}
}

// sessionFacts is what payrun reads of a session: ids, statuses, amounts
// and the times (to the second, as the zone-less form has no fraction).
func sessionFacts(s *Session) []string {
	if s == nil {
		return nil
	}
	sec := func(t Time) string { return t.UTC().Truncate(time.Second).Format(time.RFC3339) }
	out := []string{s.ID, string(s.Status), sec(s.CreatedAt), sec(s.UpdatedAt), sec(s.FinishedAt)}
	for _, p := range s.Payouts() {
		out = append(out, p.ID, string(p.Status), sec(p.CreatedAt), sec(p.FinishedAt))
		if p.AmountDetails != nil {
			out = append(out, p.AmountDetails.Money().String())
		}
	}
	for _, p := range s.AcquiringPayments() {
		out = append(out, p.ID, string(p.Status), sec(p.CreatedAt))
		if p.AmountDetails != nil {
			out = append(out, p.AmountDetails.Money().String())
		}
	}
	return out
}

func TestConfirmInformationForms(t *testing.T) {
	want := Exchanges{{ID: "pm_1", Source: Amount{1000, "RUB"}, Destination: Amount{300, "TRY"}, FXRate: "0.3000", Commission: &Amount{100, "RUB"}}}
	one := `"id":"pm_1","source":{"amount":1000,"currency":"RUB"},"destination":{"amount":300,"currency":"TRY"},"commission":{"amount":100,"currency":"RUB"}`
	tests := []struct {
		name string
		body string
	}{
		{"array, string rate (seed example, SDK)", `{"exchanges":[{` + one + `,"fx_rate":"0.3000"}]}`},
		{"object, string rate (seed table)", `{"exchanges":{` + one + `,"fx_rate":"0.3000"}}`},
		{"array, number rate", `{"exchanges":[{` + one + `,"fx_rate":0.3000}]}`},
		{"object, number rate", `{"exchanges":{` + one + `,"fx_rate":0.3000}}`},
		{"float amounts", `{"exchanges":[{"id":"pm_1","source":{"amount":1000.0,"currency":"RUB"},"destination":{"amount":3e2,"currency":"TRY"},"commission":{"amount":100.0,"currency":"RUB"},"fx_rate":"0.3000"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ci, err := ParseConfirmInformation(json.RawMessage(tt.body))
			require.NoError(t, err)
			require.Equal(t, want, ci.Exchanges)
			r, err := ParseDecimal(ci.Exchanges[0].FXRate)
			require.NoError(t, err)
			require.Equal(t, "3/10", r.RatString())
		})
	}
	none, err := ParseConfirmInformation(json.RawMessage(`{"exchanges":null}`))
	require.NoError(t, err)
	require.Empty(t, none.Exchanges)
	for _, bad := range []string{`{"exchanges":"pm_1"}`, `{"exchanges":[{"fx_rate":true}]}`, `{"exchanges":{"fx_rate":{}}}`, `{"exchanges":[1]}`} {
		_, err := ParseConfirmInformation(json.RawMessage(bad))
		require.Error(t, err, bad)
	}
}

// FuzzConfirmInformation: no input panics, and an exchange reads the same
// whether it comes as the array's only element or as the object itself.
func FuzzConfirmInformation(f *testing.F) {
	f.Add(`{"id":"pm_1","source":{"amount":1000,"currency":"RUB"},"fx_rate":"0.3000"}`)
	f.Add(`{"id":"pm_1","destination":{"amount":300.0,"currency":"TRY"},"fx_rate":0.3}`)
	f.Add(`{"fx_rate":null}`)
	f.Add(`{"fx_rate":[]}`)
	f.Fuzz(func(t *testing.T, exchange string) {
		arr, errA := ParseConfirmInformation(json.RawMessage(`{"exchanges":[` + exchange + `]}`))
		obj, errO := ParseConfirmInformation(json.RawMessage(`{"exchanges":` + exchange + `}`))
		if len(exchange) == 0 || exchange[0] != '{' || !json.Valid([]byte(exchange)) {
			return // the object form is only defined for an object
		}
		if (errA == nil) != (errO == nil) {
			t.Fatalf("array form: %v, object form: %v", errA, errO)
		}
		if errA == nil {
			require.Equal(t, arr.Exchanges, obj.Exchanges)
		}
	})
}

// FuzzParseTime: an accepted timestamp survives writing and reading again.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2022-11-15T15:38:50.255803Z", "2022-11-15 15:38:50", "2022-11-15T15:38:50", "2024-04-10T19:53:00+03:00", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseTime(s)
		if err != nil {
			return
		}
		b, err := json.Marshal(NewTime(v))
		if err != nil {
			return // a year out of range for JSON timestamps
		}
		var back Time
		require.NoError(t, json.Unmarshal(b, &back))
		require.True(t, back.Equal(v.Truncate(time.Microsecond)), "%q → %s → %s", s, b, back.Time)
	})
}
