package sandbox_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/bank131/sandbox"
)

func TestCalculate(t *testing.T) {
	e := newEnv(t, func(c *sandbox.Config) { c.TransferFee = sandbox.FeeRule{BasisPoints: -1} })
	c := e.client(projTwoStep)
	tests := []struct {
		name     string
		req      bank131.Calculate
		src, dst int64
		cur      string
		rate     string
		code     string
	}{
		// The bank's own example: forward rate from 3 579.12 RUB.
		{"seed forward TRY", calc(bank131.Given(357912, "RUB"), bank131.ToCompute("TRY")), 357913, 131426, "TRY", "2.7233", ""},
		{"reverse TRY", calc(bank131.ToCompute("rub"), bank131.Given(131426, "try")), 357913, 131426, "TRY", "2.7233", ""},
		{"forward USD", calc(bank131.Given(1_000_000, "RUB"), bank131.ToCompute("USD")), 1_000_032, 10817, "USD", "92.4500", ""},
		{"reverse USD", calc(bank131.ToCompute("RUB"), bank131.Given(10000, "USD")), 924500, 10000, "USD", "92.4500", ""},
		{"forward KGS", calc(bank131.Given(100_000, "RUB"), bank131.ToCompute("KGS")), 100_001, 94904, "KGS", "1.0537", ""},
		{"reverse KGS", calc(bank131.ToCompute("RUB"), bank131.Given(46943404, "KGS")), 49_464_265, 46943404, "KGS", "1.0537", ""},
		{"both given", calc(bank131.Given(1, "RUB"), bank131.Given(1, "TRY")), 0, 0, "", "", "invalid_request"},
		{"none given", calc(bank131.ToCompute("RUB"), bank131.ToCompute("TRY")), 0, 0, "", "", "invalid_request"},
		{"unknown currency", calc(bank131.Given(100, "RUB"), bank131.ToCompute("EUR")), 0, 0, "", "", "invalid_request"},
		{"foreign source", calc(bank131.Given(100, "TRY"), bank131.ToCompute("RUB")), 0, 0, "", "", "invalid_request"},
		{"zero", calc(bank131.Given(0, "RUB"), bank131.ToCompute("TRY")), 0, 0, "", "", "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := c.Calculate(ctx, tt.req)
			if tt.code != "" {
				require.Equal(t, tt.code, bank131.ErrorCode(err), "%v", err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, bank131.Amount{Amount: tt.src, Currency: "RUB"}, r.Amounts.Source)
			require.Equal(t, bank131.Amount{Amount: tt.dst, Currency: tt.cur}, r.Amounts.Destination)
			require.Equal(t, json.Number(tt.rate), r.Exchanges.Rate.FXRate)
			require.EqualValues(t, 1, r.Exchanges.Rate.Quantity)
			require.Equal(t, tt.req.Amounts.Source, r.Exchanges.Source, "echoed")
			require.EqualValues(t, 0, r.Amounts.TransferFee.Amount)
			require.Equal(t, r.Amounts.Source.Amount+r.Amounts.TransferFee.Amount+r.Amounts.SMSFee.Amount, r.Amounts.Payment.Amount)
		})
	}
}

func calc(src, dst bank131.CalcAmount) bank131.Calculate {
	return bank131.Calculate{Amounts: bank131.CalcSides{Source: src, Destination: dst}}
}

// seedTransfer is the page's multi/init/payment request (IBAN to Turkey).
// seedTransfer is seed 003's request example with the sender's phone in
// the four fields its own table requires (S3:238-241; the example sends
// full_number alone, S3:340-344), so the documented checks take it.
func seedTransfer(t *testing.T) bank131.MultiInitPaymentRequest {
	req := seedTransferAsWritten(t)
	if s := req.ParticipantDetails.Sender; s != nil && s.Contacts != nil && s.Contacts.Phone != nil {
		ph, err := bank131.PhoneFromE164(s.Contacts.Phone.FullNumber)
		require.NoError(t, err)
		s.Contacts.Phone = &ph
	}
	return req
}

// seedTransferAsWritten is seed 003's request example as the page prints it.
func seedTransferAsWritten(t *testing.T) bank131.MultiInitPaymentRequest {
	var req bank131.MultiInitPaymentRequest
	require.NoError(t, json.Unmarshal(readSeed(t, "s3_multi_init_request"), &req))
	return req
}

// Flow D (page 003): quote, init, ready_to_confirm with
// confirm_information and a transfer control number, confirm with the same
// object, action_required with the sandbox's own 3-D Secure page, open it,
// payment_finished.
func TestFlowTransfer(t *testing.T) {
	e := newEnv(t)
	c := e.client(projTwoStep)
	quote, err := c.Calculate(ctx, calc(bank131.Given(357912, "RUB"), bank131.ToCompute("TRY")))
	require.NoError(t, err)
	require.EqualValues(t, 3580, quote.Amounts.TransferFee.Amount, "1% of 3579.13 RUB, rounded up")

	req := seedTransfer(t)
	req.Metadata = json.RawMessage(`{"payrun":"b0123456789abcdef0123/9"}`)
	r, err := c.MultiInitPayment(ctx, req, bank131.WithIdempotencyKey("b1/9/a1/init"))
	require.NoError(t, err)
	id := r.Session.ID
	require.Equal(t, bank131.SessionInProgress, r.Session.Status)
	pm := r.Session.AcquiringPayments()
	require.Len(t, pm, 1)
	require.Equal(t, bank131.PayoutInProgress, pm[0].Status)
	po := r.Session.Payout()
	require.Equal(t, "TUR", po.Method().Country)
	require.Equal(t, "bank_account/iban", po.Method().Kind())
	require.Equal(t, bank131.Amount{Amount: 131426, Currency: "TRY"}, *po.AmountDetails)

	rtc := e.sink.await(id, bank131.HookReadyToConfirm, 1)
	require.NotNil(t, rtc.ConfirmInformation)
	ex, err := rtc.Exchanges()
	require.NoError(t, err)
	require.Equal(t, []bank131.Exchange{{
		ID:          pm[0].ID,
		Source:      bank131.Amount{Amount: 357913, Currency: "RUB"},
		Destination: bank131.Amount{Amount: 131426, Currency: "TRY"},
		FXRate:      "0.3672",
		Commission:  &bank131.Amount{Amount: 3580, Currency: "RUB"},
	}}, ex)
	tcn, err := rtc.TCN()
	require.NoError(t, err)
	require.Regexp(t, `^\d{6}-\d{8}$`, tcn)
	require.Equal(t, bank131.PayoutPending, rtc.Session.AcquiringPayments()[0].Status)

	// Not the same confirm_information: refused.
	_, err = c.Confirm(ctx, id, json.RawMessage(`{"exchanges":[{"id":"`+pm[0].ID+`","fx_rate":"0.4000"}]}`))
	require.Equal(t, bank131.CodeInvalidRequest, bank131.ErrorCode(err))
	_, err = c.Confirm(ctx, id, nil)
	require.Equal(t, bank131.CodeInvalidRequest, bank131.ErrorCode(err), "confirm_information is required")

	confirmed, err := c.Confirm(ctx, id, rtc.ConfirmInformation, bank131.WithIdempotencyKey("b1/9/"+id+"/confirm"))
	require.NoError(t, err)
	require.NotEmpty(t, confirmed.Session.Actions)

	ar := e.sink.await(id, bank131.HookActionRequired, 1)
	link := ar.RedirectURL()
	require.Regexp(t, `^`+e.ts.URL+`/sandbox/3ds/[0-9a-f]{32}$`, link)

	resp, err := http.Get(link)
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Type"), "text/html")
	require.Contains(t, string(page), "is complete")

	fin := e.sink.await(id, bank131.HookPaymentFinished, 1)
	require.Equal(t, bank131.SessionAccepted, fin.Session.Status)
	require.Equal(t, bank131.PayoutSucceeded, fin.Session.Payout().Status)
	require.Equal(t, bank131.PayoutSucceeded, fin.Session.AcquiringPayments()[0].Status)
	require.Empty(t, fin.RedirectURL())
	require.Equal(t, []bank131.WebhookType{bank131.HookReadyToConfirm, bank131.HookActionRequired, bank131.HookPaymentFinished}, e.sink.of(id))

	got := e.payout(id)
	require.Equal(t, 1, got.ConfirmsAccepted)
	require.Equal(t, 3, got.ConfirmCount)
	require.Equal(t, "TRY", got.Currency)
	require.JSONEq(t, string(req.Metadata), string(got.Metadata))

	resp, err = http.Get(link)
	require.NoError(t, err)
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Contains(t, string(page), "already completed")
}

// The confirm_information comparison is semantic: key order and spacing do
// not matter.
func TestTransferConfirmInformationSemantic(t *testing.T) {
	e := newEnv(t, func(c *sandbox.Config) { c.AutoThreeDS = true })
	c := e.client(projTwoStep)
	req := seedTransfer(t)
	r, err := c.MultiInitPayment(ctx, req)
	require.NoError(t, err)
	rtc := e.sink.await(r.Session.ID, bank131.HookReadyToConfirm, 1)
	var v any
	require.NoError(t, json.Unmarshal(rtc.ConfirmInformation, &v))
	pretty, err := json.MarshalIndent(v, "", "    ")
	require.NoError(t, err)
	_, err = c.Confirm(ctx, r.Session.ID, pretty)
	require.NoError(t, err)
	fin := e.sink.await(r.Session.ID, bank131.HookPaymentFinished, 1)
	require.Equal(t, bank131.PayoutSucceeded, fin.Session.Payout().Status, "auto 3-D Secure")
}

func TestTransferKinds(t *testing.T) {
	e := newEnv(t, func(c *sandbox.Config) { c.AutoThreeDS = true })
	c := e.client(projTwoStep)
	tests := []struct {
		name   string
		po     *bank131.PaymentMethod
		dst    string
		amount int64
		status bank131.PayoutStatus
		code   string // call error
		fail   string // payout error
	}{
		{"cash USD", bank131.MoneysendMethod("TUR"), "USD", 100_000, bank131.PayoutSucceeded, "", ""},
		{"card KGS", bank131.TransferCardMethod("839d41cf716afcb01d581d2827e4472", "KGZ"), "KGS", 100_000, bank131.PayoutSucceeded, "", ""},
		{"3DS fails", bank131.MoneysendMethod("TUR"), "USD", sandbox.AmountFail3DS, bank131.PayoutFailed, "", bank131.CodeThreeDS},
		{"payout fails", bank131.MoneysendMethod("TUR"), "USD", sandbox.AmountFailLimit, bank131.PayoutFailed, "", bank131.CodeProviderAmountLimit},
		{"rejected token", bank131.TransferCardMethod("00"+sandbox.TokenRejectNotExist, "KGZ"), "KGS", 100_000, "", bank131.CodeCardNumberNotExist, ""},
		{"wrong currency", bank131.MoneysendMethod("TUR"), "TRY", 100_000, "", bank131.CodeInvalidRequest, ""},
		{"wrong country", bank131.TransferCardMethod("abc", "TUR"), "KGS", 100_000, "", bank131.CodeInvalidRequest, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := seedTransfer(t)
			req.PayoutDetailsMulti = []bank131.PaymentMethod{*tt.po}
			req.Calculate = calc(bank131.Given(tt.amount, "RUB"), bank131.ToCompute(tt.dst))
			r, err := c.MultiInitPayment(ctx, req)
			if tt.code != "" {
				require.Equal(t, tt.code, bank131.ErrorCode(err), "%v", err)
				return
			}
			require.NoError(t, err)
			rtc := e.sink.await(r.Session.ID, bank131.HookReadyToConfirm, 1)
			_, err = c.Confirm(ctx, r.Session.ID, rtc.ConfirmInformation)
			require.NoError(t, err)
			e.sink.await(r.Session.ID, bank131.HookActionRequired, 1)
			fin := e.sink.await(r.Session.ID, bank131.HookPaymentFinished, 1)
			p := fin.Session.Payout()
			require.Equal(t, tt.status, p.Status)
			require.Equal(t, tt.dst, p.AmountDetails.Currency)
			if tt.fail != "" {
				require.Equal(t, tt.fail, p.Error.Code)
			}
		})
	}
}

func TestTransferValidation(t *testing.T) {
	e := newEnv(t)
	c := e.client(projTwoStep)
	tests := []struct {
		name   string
		change func(r *bank131.MultiInitPaymentRequest)
	}{
		{"no payment details", func(r *bank131.MultiInitPaymentRequest) { r.PaymentDetailsMulti = nil }},
		{"no payout details", func(r *bank131.MultiInitPaymentRequest) { r.PayoutDetailsMulti = nil }},
		{"no iban", func(r *bank131.MultiInitPaymentRequest) { r.PayoutDetailsMulti[0].BankAccount.IBAN = nil }},
		{"no system type", func(r *bank131.MultiInitPaymentRequest) { r.PayoutDetailsMulti[0].SystemType = "" }},
		{"no country", func(r *bank131.MultiInitPaymentRequest) { r.PayoutDetailsMulti[0].Country = "" }},
		{"no sender", func(r *bank131.MultiInitPaymentRequest) { r.ParticipantDetails.Sender = nil }},
		{"sender under 18", func(r *bank131.MultiInitPaymentRequest) { r.ParticipantDetails.Sender.DateOfBirth = "2020-01-01" }},
		{"sender without document", func(r *bank131.MultiInitPaymentRequest) { r.ParticipantDetails.Sender.IdentityDocument = nil }},
		{"sender without city", func(r *bank131.MultiInitPaymentRequest) {
			r.ParticipantDetails.Sender.Address.StructuredAddress.City = ""
		}},
		{"recipient without last name", func(r *bank131.MultiInitPaymentRequest) { r.ParticipantDetails.Recipient.LastName = "" }},
		{"recipient without citizenship", func(r *bank131.MultiInitPaymentRequest) {
			r.ParticipantDetails.Recipient.CitizenshipCountryISO3 = ""
		}},
		{"bad phone", func(r *bank131.MultiInitPaymentRequest) {
			r.ParticipantDetails.Sender.Contacts.Phone.FullNumber = "89376151530"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := seedTransfer(t)
			tt.change(&req)
			_, err := c.MultiInitPayment(ctx, req)
			require.Equal(t, bank131.CodeInvalidRequest, bank131.ErrorCode(err), "%v", err)
		})
	}
	require.Empty(t, e.srv.Payouts())
}

func TestTransferCancel(t *testing.T) {
	e := newEnv(t)
	c := e.client(projTwoStep)
	r, err := c.MultiInitPayment(ctx, seedTransfer(t))
	require.NoError(t, err)
	e.sink.await(r.Session.ID, bank131.HookReadyToConfirm, 1)
	cancelled, err := c.Cancel(ctx, r.Session.ID)
	require.NoError(t, err)
	require.Equal(t, bank131.PayoutPending, cancelled.Session.AcquiringPayments()[0].Status, "as in the page's example")
	fin := e.sink.await(r.Session.ID, bank131.HookPaymentFinished, 1)
	require.Equal(t, bank131.SessionCancelled, fin.Session.Status)
	require.Equal(t, bank131.PayoutFailed, fin.Session.AcquiringPayments()[0].Status)
	require.Equal(t, bank131.PayoutFailed, fin.Session.Payout().Status)
}

// Started on its own listener, the sandbox builds 3-D Secure links from its
// listen address.
func TestStartListener(t *testing.T) {
	cfg := fastConfig(t)
	s := newSink(t, loadPub(t, "bank_public.pem"))
	cfg.WebhookURL = s.ts.URL
	srv, err := sandbox.New(cfg)
	require.NoError(t, err)
	require.NoError(t, srv.Start("127.0.0.1:0"))
	t.Cleanup(func() { srv.Close() })
	require.Regexp(t, `^http://127\.0\.0\.1:\d+$`, srv.URL())

	c, err := bank131.NewClient(bank131.Config{BaseURL: srv.URL(), Project: projTwoStep, PrivateKey: loadPriv(t, "partner_pkcs8.pem")})
	require.NoError(t, err)
	r, err := c.MultiInitPayment(ctx, seedTransfer(t))
	require.NoError(t, err)
	rtc := s.await(r.Session.ID, bank131.HookReadyToConfirm, 1)
	_, err = c.Confirm(ctx, r.Session.ID, rtc.ConfirmInformation)
	require.NoError(t, err)
	ar := s.await(r.Session.ID, bank131.HookActionRequired, 1)
	require.Regexp(t, `^`+srv.URL()+`/sandbox/3ds/`, ar.RedirectURL())
	resp, err := http.Get(ar.RedirectURL())
	require.NoError(t, err)
	resp.Body.Close()
	fin := s.await(r.Session.ID, bank131.HookPaymentFinished, 1)
	require.Equal(t, bank131.PayoutSucceeded, fin.Session.Payout().Status)
	require.NoError(t, srv.Close())
	// A new client has no kept-alive connection: nothing listens, retry.
	// (The old client's idle connection was closed under it; a request
	// written on it ends in EOF, which is "outcome unknown".)
	fresh, err := bank131.NewClient(bank131.Config{BaseURL: srv.URL(), Project: projTwoStep, PrivateKey: loadPriv(t, "partner_pkcs8.pem")})
	require.NoError(t, err)
	_, err = fresh.Status(ctx, r.Session.ID)
	require.Equal(t, bank131.ClassRetry, bank131.Classify(err), "%v", err)
	require.True(t, bank131.IsConnectError(err))
}

func TestNewValidates(t *testing.T) {
	good := fastConfig(t)
	tests := []struct {
		name   string
		change func(c *sandbox.Config)
	}{
		{"no projects", func(c *sandbox.Config) { c.Projects = nil }},
		{"no bank key", func(c *sandbox.Config) { c.BankKey = nil }},
		{"project without key", func(c *sandbox.Config) { c.Projects = []sandbox.Project{{Name: "x"}} }},
		{"duplicate project", func(c *sandbox.Config) { c.Projects = append(c.Projects, c.Projects[0]) }},
		{"bad mode", func(c *sandbox.Config) { c.Projects[0].Mode = "weekly" }},
		{"bad rate", func(c *sandbox.Config) { c.Rates = map[string]string{"TRY": "1e3"} }},
		{"bad unknown-project code", func(c *sandbox.Config) { c.UnknownProjectCode = "nope" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			cfg.Projects = append([]sandbox.Project(nil), good.Projects...)
			tt.change(&cfg)
			_, err := sandbox.New(cfg)
			require.Error(t, err)
		})
	}
}
