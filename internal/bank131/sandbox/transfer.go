package sandbox

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/logkey"
)

// Cross-border transfers (page 003):
//
//	multi/init/payment ─▶ in_progress, pm in_progress, po in_progress
//	  ─(Processing)─▶ pm pending, next_action confirm  [ready_to_confirm + confirm_information + tcn]
//	  ─confirm (same confirm_information)─▶ pm in_progress, actions.confirm
//	  ─(Settle)─▶ 3-D Secure link on the pm  [action_required]
//	  ─GET the link─▶ ─(Settle)─▶ pm succeeded, po succeeded, accepted  [payment_finished]
//	                              (3-D Secure trigger: pm and po failed 3DS_error, cancelled)

// transfer is the cross-border part of a session.
type transfer struct {
	quote       quote
	kind        transferKind
	confirmInfo json.RawMessage // as sent in ready_to_confirm
	tcn         string
	baseURL     string
	threeDS     string // token of the 3-D Secure page
	threeDSDone bool
}

// calculateBody is bpa/calculate's answer. The bank's example has no
// status field; the sandbox adds "status":"ok" like every other answer
// unless Modes.CalculateStatus is none.
type calculateBody struct {
	Status string `json:"status,omitempty"`
	bank131.CalculateResponse
}

func (s *Server) handleCalculate(c *call) ([]byte, *apiError) {
	var req bank131.CalculateRequest
	if err := decode(c.body, &req); err != nil {
		return nil, err
	}
	q, err := s.convert(req)
	if err != nil {
		return nil, err
	}
	status := "ok"
	if s.cfg.Modes.CalculateStatus == modeNone {
		status = ""
	}
	b, merr := marshal(calculateBody{Status: status, CalculateResponse: calculateAnswer(req, q)})
	if merr != nil {
		return nil, newAPIError(bank131.CodeInternal, "render: %v", merr)
	}
	return b, nil
}

func (s *Server) handleMultiInit(c *call) ([]byte, *apiError) {
	var req bank131.MultiInitPaymentRequest
	if err := decode(c.body, &req); err != nil {
		return nil, err
	}
	kind, err := checkTransfer(&req, s.now(), s.cfg.Modes)
	if err != nil {
		return nil, err
	}
	q, err := s.convert(req.Calculate)
	if err != nil {
		return nil, err
	}
	pay, po := &req.PaymentDetailsMulti[0], &req.PayoutDetailsMulti[0]
	reject, out := decide([]*bank131.PaymentMethod{pay, po}, q.given)
	if reject != "" {
		return nil, newAPIError(reject, "%s", bank131.Reason(reject))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.failOnce(c, q.given, req.Metadata); err != nil {
		return nil, err
	}
	sess := s.newSession(c)
	now := s.now()
	calc := req.Calculate
	sess.acq = &acqRec{
		id: s.newID("pm_"), status: bank131.PayoutInProgress, createdAt: now, updatedAt: now,
		details: pay, amount: bank131.Amount{Amount: q.source + q.fee, Currency: "RUB"},
		participants: &req.ParticipantDetails, customer: req.Customer, calculate: &calc,
		options: req.PaymentOptions, metadata: req.Metadata,
	}
	_, kindName, last4 := s.shown(po)
	sess.payout = &payoutRec{
		id: s.newID("po_"), status: bank131.PayoutInProgress, createdAt: now,
		method: po, kind: kindName, last4: last4,
		amount:       bank131.Amount{Amount: q.destination, Currency: q.currency},
		participants: &req.ParticipantDetails, customer: req.Customer, calculate: &calc,
		metadata: req.Metadata,
	}
	sess.metadata = req.Metadata
	sess.xfer = &transfer{quote: q, kind: kind, baseURL: c.baseURL}
	sess.status = bank131.SessionInProgress
	out.refund = false // transfers are not refunded (DOC-refunds: Russian bank accounts only)
	sess.outcome = out
	sess.touch(now)
	if !out.stuck {
		s.after(s.cfg.Timing.Processing, sess, s.transferReady)
	}
	return s.answer(sess, c.version)
}

// transferReady sends ready_to_confirm with confirm_information and the
// transfer control number.
func (s *Server) transferReady(sess *session) {
	x := sess.xfer
	ci, err := s.confirmInformation(sess)
	if err == nil {
		ci, err = s.forms(ci, false)
	}
	if err != nil {
		s.log.Error("render confirm_information", logkey.Session, sess.id, logkey.Error, err)
		return
	}
	x.confirmInfo = ci
	n, _ := strconv.ParseInt(strings.TrimPrefix(sess.id, "ps_"), 10, 64)
	x.tcn = fmt.Sprintf("%06d-%08d", n%1_000_000, (n*7919+13)%100_000_000)
	sess.acq.status = bank131.PayoutPending
	sess.next = bank131.NextActionConfirm
	now := s.now()
	sess.acq.updatedAt = now
	sess.touch(now)
	s.emit(sess, bank131.HookReadyToConfirm, ci, &bank131.WebhookDetails{
		TCNCodeEncoded: base64.StdEncoding.EncodeToString([]byte(x.tcn)),
	})
	s.after(s.cfg.Timing.ConfirmTimeout, sess, func(sess *session) { s.cancelDone(sess, bank131.CodeConfirmTimeout) })
}

// confirmExchange is one exchange of confirm_information as the sandbox
// writes it: fx_rate a JSON string or number (Modes.ConfirmFXRate).
type confirmExchange struct {
	ID          string          `json:"id"`
	Source      bank131.Amount  `json:"source"`
	Destination bank131.Amount  `json:"destination"`
	FXRate      json.RawMessage `json:"fx_rate"`
	Commission  bank131.Amount  `json:"commission"`
}

// confirmInformation renders the confirm_information of a transfer: seed
// 003's example (an array of exchanges, fx_rate a string; S3:605-624, the
// SDK's ConfirmInformation), or in the modes the seed's table's object
// (S3:639) and a number rate.
func (s *Server) confirmInformation(sess *session) ([]byte, error) {
	q := sess.xfer.quote
	rate, _ := json.Marshal(q.fxRate())
	if s.cfg.Modes.ConfirmFXRate == modeNumber {
		rate = json.RawMessage(q.fxRate())
	}
	x := confirmExchange{
		ID:          sess.acq.id,
		Source:      bank131.Amount{Amount: q.source, Currency: "RUB"},
		Destination: bank131.Amount{Amount: q.destination, Currency: q.currency},
		FXRate:      rate,
		Commission:  bank131.Amount{Amount: q.fee, Currency: "RUB"},
	}
	if s.cfg.Modes.ConfirmExchanges == modeObject {
		return marshal(struct {
			Exchanges confirmExchange `json:"exchanges"`
		}{x})
	}
	return marshal(struct {
		Exchanges []confirmExchange `json:"exchanges"`
	}{[]confirmExchange{x}})
}

// sameJSON reports whether a and b are the same JSON value: key order and
// spacing do not matter, numbers are compared as written.
func sameJSON(a, b []byte) bool {
	va, errA := jsonValue(a)
	vb, errB := jsonValue(b)
	return errA == nil && errB == nil && reflect.DeepEqual(va, vb)
}

func jsonValue(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// confirmTransfer confirms a cross-border transfer. Caller holds s.mu.
func (s *Server) confirmTransfer(c *call, sess *session, ci json.RawMessage) ([]byte, *apiError) {
	if sess.acq.status != bank131.PayoutPending || sess.next != bank131.NextActionConfirm || sess.cancelling {
		return nil, s.wrongState("session %s is not waiting for confirmation (session %s)", sess.id, sess.status)
	}
	if len(ci) == 0 || bytes.Equal(ci, []byte("null")) {
		return nil, invalid("confirm_information is required: send the object of ready_to_confirm unchanged")
	}
	if !sameJSON(ci, sess.xfer.confirmInfo) {
		return nil, invalid("confirm_information does not match the one sent in ready_to_confirm")
	}
	sess.confirmsAccepted++
	now := s.now()
	sess.acq.status = bank131.PayoutInProgress
	sess.acq.updatedAt = now
	sess.next = ""
	sess.confirmAt = now
	sess.touch(now)
	s.after(s.cfg.Timing.Settle, sess, s.actionRequired)
	return s.answer(sess, c.version)
}

// actionRequired asks the sender to pass 3-D Secure on the sandbox's page.
func (s *Server) actionRequired(sess *session) {
	var b [16]byte
	rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	x := sess.xfer
	x.threeDS = token
	s.threeDS[token] = sess.id
	url := strings.TrimRight(x.baseURL, "/") + "/sandbox/3ds/" + token
	sess.acq.interaction = &bank131.CustomerInteraction{Type: "redirect", Redirect: &bank131.Redirect{
		URL: url, BaseURL: url, Method: http.MethodGet, QS: json.RawMessage(`{}`),
	}}
	now := s.now()
	sess.acq.updatedAt = now
	sess.touch(now)
	s.emit(sess, bank131.HookActionRequired, nil, nil)
	s.after(s.cfg.Timing.ThreeDSTimeout, sess, func(sess *session) {
		s.transferFailed(sess, bank131.CodeThreeDS)
	})
	if s.cfg.AutoThreeDS {
		s.after(s.cfg.Timing.Settle, sess, s.complete3DS)
	}
}

// complete3DS records that the sender passed (or, by trigger, failed) the
// 3-D Secure page. Caller holds s.mu.
func (s *Server) complete3DS(sess *session) {
	sess.xfer.threeDSDone = true
	sess.acq.interaction = nil
	now := s.now()
	sess.acq.updatedAt = now
	sess.touch(now)
	s.after(s.cfg.Timing.Settle, sess, func(sess *session) {
		if sess.outcome.fail3DS {
			s.transferFailed(sess, bank131.CodeThreeDS)
			return
		}
		now := s.now()
		sess.acq.status = bank131.PayoutSucceeded
		sess.acq.finished, sess.acq.updatedAt = now, now
		s.finish(sess)
	})
}

// transferFailed fails both sides of a transfer. Caller holds s.mu.
func (s *Server) transferFailed(sess *session, code string) {
	now := s.now()
	e := &bank131.Error{Code: code, Description: bank131.Reason(code)}
	sess.acq.status, sess.acq.err, sess.acq.finished, sess.acq.updatedAt = bank131.PayoutFailed, e, now, now
	sess.acq.interaction = nil
	sess.payout.status, sess.payout.err, sess.payout.finished = bank131.PayoutFailed, e, now
	sess.status = s.failedStatus()
	sess.finished = now
	sess.touch(now)
	s.emit(sess, bank131.HookPaymentFinished, nil, nil)
}

// serve3DS is the sandbox's 3-D Secure page: opening it passes 3-D Secure.
func (s *Server) serve3DS(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	s.mu.Lock()
	id, ok := s.threeDS[token]
	var msg string
	status := http.StatusOK
	switch sess := s.sessions[id]; {
	case !ok || sess == nil:
		status, msg = http.StatusNotFound, "Unknown 3-D Secure page."
	case sess.xfer.threeDSDone:
		msg = "3-D Secure for session " + sess.id + " was already completed."
	case sess.xfer.threeDS != token || sess.status != bank131.SessionInProgress:
		status, msg = http.StatusGone, "This 3-D Secure page has expired."
	default:
		s.complete3DS(sess)
		msg = "3-D Secure for session " + sess.id + " is complete. You can close this page."
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html><html><head><title>Bank 131 sandbox 3-D Secure</title></head>"+
		"<body><h1>Bank 131 sandbox</h1><p>%s</p></body></html>\n", html.EscapeString(msg))
}
