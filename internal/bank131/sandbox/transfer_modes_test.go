package sandbox_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/bank131/sandbox"
)

// The sandbox serves bpa/session/multi/init/payment on the one version it
// is set to (seed 003 names both /api/v1.1/ and /api/v1/); the other is an
// unknown method. The client's BPAVersion picks the address.
func TestBPAVersion(t *testing.T) {
	for _, tt := range []struct{ sandbox, served, other string }{{"", "v1.1", "v1"}, {"v1.1", "v1.1", "v1"}, {"v1", "v1", "v1.1"}} {
		t.Run("sandbox "+tt.sandbox, func(t *testing.T) {
			e := newEnv(t, func(c *sandbox.Config) { c.Modes.BPAVersion = tt.sandbox })
			p := rawPartner{t: t, base: e.ts.URL, project: projTwoStep, key: e.partner}
			body := documentedPhone(t, readSeed(t, "s3_multi_init_request"))
			status, out := p.post("/api/"+tt.other+"/bpa/session/multi/init/payment", body, nil)
			require.Equal(t, http.StatusNotFound, status)
			require.Equal(t, "invalid_request", out["error"].(map[string]any)["code"])
			status, out = p.post("/api/"+tt.served+"/bpa/session/multi/init/payment", body, nil)
			require.Equal(t, http.StatusOK, status, "%v", out)

			for version, ok := range map[string]bool{tt.served: true, tt.other: false} {
				c, err := bank131.NewClient(bank131.Config{BaseURL: e.ts.URL, Project: projTwoStep, PrivateKey: e.partner, BPAVersion: version})
				require.NoError(t, err)
				_, err = c.MultiInitPayment(ctx, seedTransfer(t))
				require.Equal(t, ok, err == nil, "client %s: %v", version, err)
			}
		})
	}
	_, err := bank131.NewClient(bank131.Config{BaseURL: "http://x", Project: "p", PrivateKey: loadPriv(t, "partner_pkcs1.pem"), BPAVersion: "v2"})
	require.Error(t, err)
}

// confirm_information's exchanges as an array or an object, fx_rate as a
// string or a number: the client reads each form and confirming with the
// bytes as received goes through.
func TestConfirmInformationModes(t *testing.T) {
	for _, exchanges := range []string{"array", "object"} {
		for _, rate := range []string{"string", "number"} {
			t.Run(exchanges+"/"+rate, func(t *testing.T) {
				e := newEnv(t, func(c *sandbox.Config) { c.Modes.ConfirmExchanges, c.Modes.ConfirmFXRate = exchanges, rate })
				c := e.client(projTwoStep)
				r, err := c.MultiInitPayment(ctx, seedTransfer(t))
				require.NoError(t, err)
				id := r.Session.ID
				raw := string(e.sink.raw(id, bank131.HookReadyToConfirm, 1))
				require.Equal(t, exchanges == "array", strings.Contains(raw, `"exchanges":[`), raw)
				require.Equal(t, rate == "string", strings.Contains(raw, `"fx_rate":"0.3672"`), raw)
				rtc := e.sink.await(id, bank131.HookReadyToConfirm, 1)
				ex, err := rtc.Exchanges()
				require.NoError(t, err)
				require.Len(t, ex, 1)
				require.Equal(t, "0.3672", ex[0].FXRate)
				require.EqualValues(t, 131426, ex[0].Destination.Amount)
				_, err = c.Confirm(ctx, id, rtc.ConfirmInformation)
				require.NoError(t, err)
				e.sink.await(id, bank131.HookActionRequired, 1)
			})
		}
	}
}

func TestCalculateStatusMode(t *testing.T) {
	for _, mode := range []string{"ok", "none"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, func(c *sandbox.Config) { c.Modes.CalculateStatus = mode })
			p := rawPartner{t: t, base: e.ts.URL, project: projTwoStep, key: e.partner}
			status, out := p.post("/api/v1/bpa/calculate", readSeed(t, "s3_calculate_request"), nil)
			require.Equal(t, http.StatusOK, status)
			_, has := out["status"]
			require.Equal(t, mode == "ok", has)
			q, err := e.client(projTwoStep).Calculate(ctx, calc(bank131.Given(357912, "RUB"), bank131.ToCompute("TRY")))
			require.NoError(t, err, "the client reads either")
			require.EqualValues(t, 131426, q.Amounts.Destination.Amount)
		})
	}
}

// documentedSender is a Russian sender as seed 003's table wants it.
func documentedSender() *bank131.Participant {
	return &bank131.Participant{
		CitizenshipCountryISO3: "RUS", FirstName: "Ольга", LastName: "Пахмутова", DateOfBirth: "1998-03-15",
		Address: &bank131.Address{StructuredAddress: &bank131.StructuredAddress{CountryISO3: "RUS", City: "Уренгой", Building: "1"}},
		IdentityDocument: &bank131.IdentityDocument{IDType: bank131.IDTypeRussianPassport, IDNumber: "8008579120", IssueDate: "2020-03-01",
			DivisionCode: "213-432", IssuedBy: "ОВД ПО Кировскому району"},
		Contacts: &bank131.Contacts{Phone: &bank131.Phone{FullNumber: "+79376151530", CountryISO3: "RUS", OperatorCode: "937", ShortNumber: "6151530"}},
	}
}

func TestTransferChecksDocumented(t *testing.T) {
	foreign := func(p *bank131.Participant) {
		p.CitizenshipCountryISO3 = "AUS"
		p.IdentityDocument = nil
		p.DocumentsForeigner = &bank131.IdentityDocument{IDNumber: "PA1234567", IssueDate: "2020-01-01", IDExpirationDate: "2030-01-01"}
	}
	tests := []struct {
		name   string
		modes  sandbox.Modes
		sender func(*bank131.Participant)
		phone  *bank131.Phone // recipient's
		ok     bool
		msg    string // in the refusal
	}{
		{"documented Russian sender", sandbox.Modes{}, func(*bank131.Participant) {}, nil, true, ""},
		{"id_type passport", sandbox.Modes{}, func(p *bank131.Participant) { p.IdentityDocument.IDType = "passport" }, nil, false, "id_type"},
		{"no document", sandbox.Modes{}, func(p *bank131.Participant) { p.IdentityDocument = nil }, nil, false, "identity_document"},
		{"issue date form", sandbox.Modes{}, func(p *bank131.Participant) { p.IdentityDocument.IssueDate = "01.03.2020" }, nil, false, "issue_date"},
		{"id_number spaces accepted", sandbox.Modes{}, func(p *bank131.Participant) { p.IdentityDocument.IDNumber = "8008 579120" }, nil, true, ""},
		{"id_number spaces refused", sandbox.Modes{IDNumberSpaces: "refuse"}, func(p *bank131.Participant) { p.IdentityDocument.IDNumber = "8008 579120" }, nil, false, "without spaces"},
		{"foreigner without documents_foreigner", sandbox.Modes{}, func(p *bank131.Participant) { p.CitizenshipCountryISO3 = "AUS" }, nil, false, "documents_foreigner is required"},
		{"foreigner with documents_foreigner", sandbox.Modes{}, foreign, nil, true, ""},
		{"foreigner with both (the seed's AUS example)", sandbox.Modes{}, func(p *bank131.Participant) {
			doc := p.IdentityDocument
			foreign(p)
			p.IdentityDocument = doc
		}, nil, true, ""},
		{"foreigner document without id_number (table)", sandbox.Modes{}, func(p *bank131.Participant) { foreign(p); p.DocumentsForeigner.IDNumber = "" }, nil, false, "id_number"},
		{"foreigner document without id_number (example)", sandbox.Modes{ForeignerDocuments: "example"}, func(p *bank131.Participant) {
			foreign(p)
			p.DocumentsForeigner = &bank131.IdentityDocument{IDType: "Виза", IssueDate: "2020-01-01", IssuedBy: "OVD Kazani", IDExpirationDate: "2030-01-01"}
		}, nil, true, ""},
		{"expiry form", sandbox.Modes{}, func(p *bank131.Participant) { foreign(p); p.DocumentsForeigner.IDExpirationDate = "2030" }, nil, false, "id_expiration_date"},
		{"phone full_number only", sandbox.Modes{}, func(p *bank131.Participant) { p.Contacts.Phone = &bank131.Phone{FullNumber: "+79376151530"} }, nil, false, "country_iso3"},
		{"phone parts disagree", sandbox.Modes{}, func(p *bank131.Participant) { p.Contacts.Phone.OperatorCode = "938" }, nil, false, "does not match"},
		{"phone of the seed's TUR example (+43)", sandbox.Modes{}, func(p *bank131.Participant) {
			p.Contacts.Phone = &bank131.Phone{FullNumber: "+43523452345", CountryISO3: "TUR", OperatorCode: "352", ShortNumber: "3452345"}
		}, nil, false, "does not match"},
		{"no contacts", sandbox.Modes{}, func(p *bank131.Participant) { p.Contacts = nil }, nil, true, ""},
		{"tax_reference", sandbox.Modes{}, func(p *bank131.Participant) { p.TaxReference = "12345" }, nil, false, "tax_reference"},
		{"recipient full_number (table)", sandbox.Modes{}, func(*bank131.Participant) {}, &bank131.Phone{FullNumber: "+905321234567"}, true, ""},
		{"recipient full_number only (examples)", sandbox.Modes{RecipientPhone: "four"}, func(*bank131.Participant) {}, &bank131.Phone{FullNumber: "+905321234567"}, false, "recipient.contacts.phone"},
		{"recipient four fields (examples)", sandbox.Modes{RecipientPhone: "four"}, func(*bank131.Participant) {},
			&bank131.Phone{FullNumber: "+905321234567", CountryISO3: "TUR", OperatorCode: "532", ShortNumber: "1234567"}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			modes := tt.modes
			modes.TransferChecks = "documented"
			e := newEnv(t, func(c *sandbox.Config) { c.Modes = modes })
			req := seedTransfer(t)
			req.ParticipantDetails.Sender = documentedSender()
			tt.sender(req.ParticipantDetails.Sender)
			if tt.phone != nil {
				req.ParticipantDetails.Recipient.Contacts = &bank131.Contacts{Phone: tt.phone}
			}
			_, err := e.client(projTwoStep).MultiInitPayment(ctx, req)
			if tt.ok {
				require.NoError(t, err)
				return
			}
			require.Equal(t, bank131.CodeInvalidRequest, bank131.ErrorCode(err))
			require.ErrorContains(t, err, tt.msg)
		})
	}
}

// The lenient checks (a mode; the default was lenient while payrun's
// processor sent "passport") accept what the seed's own example sends.
func TestTransferChecksLenient(t *testing.T) {
	e := newEnv(t, func(c *sandbox.Config) { c.Modes.TransferChecks = "lenient" })
	req := seedTransferAsWritten(t)
	_, err := e.client(projTwoStep).MultiInitPayment(ctx, req)
	require.NoError(t, err, "the seed's example: id_number with a space, full_number only")
	req.ParticipantDetails.Sender.IdentityDocument.IDType = "passport"
	_, err = e.client(projTwoStep).MultiInitPayment(ctx, req)
	require.NoError(t, err)
	req.ParticipantDetails.Sender.IdentityDocument = nil
	_, err = e.client(projTwoStep).MultiInitPayment(ctx, req)
	require.Equal(t, bank131.CodeInvalidRequest, bank131.ErrorCode(err))

	e = newEnv(t)
	_, err = e.client(projTwoStep).MultiInitPayment(ctx, seedTransferAsWritten(t))
	require.ErrorContains(t, err, "phone", "the default is documented: the seed's example breaks its own table (S3:340-344 vs S3:238-241)")
}

// A foreign sender's transfer goes all the way in the documented mode.
func TestTransferForeignSender(t *testing.T) {
	e := newEnv(t, func(c *sandbox.Config) { c.Modes.TransferChecks = "documented"; c.AutoThreeDS = true })
	c := e.client(projTwoStep)
	req := seedTransfer(t)
	s := documentedSender()
	s.CitizenshipCountryISO3 = "KGZ"
	s.IdentityDocument = nil
	s.DocumentsForeigner = &bank131.IdentityDocument{IDNumber: "ID1234567", IssueDate: "2021-05-01"}
	ph, err := bank131.PhoneFromE164("+996 555 123 456")
	require.NoError(t, err)
	s.Contacts = &bank131.Contacts{Phone: &ph}
	req.ParticipantDetails.Sender = s
	r, err := c.MultiInitPayment(ctx, req)
	require.NoError(t, err)
	rtc := e.sink.await(r.Session.ID, bank131.HookReadyToConfirm, 1)
	_, err = c.Confirm(ctx, r.Session.ID, rtc.ConfirmInformation)
	require.NoError(t, err)
	fin := e.sink.await(r.Session.ID, bank131.HookPaymentFinished, 1)
	require.Equal(t, bank131.SessionAccepted, fin.Session.Status)
	sender := fin.Session.AcquiringPayments()[0].ParticipantDetails.Sender
	require.Equal(t, "KGZ", sender.CitizenshipCountryISO3)
	require.Equal(t, "ID1234567", sender.DocumentsForeigner.IDNumber)
	require.Equal(t, bank131.Phone{FullNumber: "+996555123456", CountryISO3: "KGZ", OperatorCode: "555", ShortNumber: "123456"}, *sender.Contacts.Phone)
}
