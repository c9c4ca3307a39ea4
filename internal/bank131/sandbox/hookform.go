package sandbox

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"

	"github.com/payrun/payrun/internal/bank131"
)

// hookForm rewrites a webhook body into the forms the modes ask for. Every
// seed and SDK test writes integer amounts and RFC 3339 times with
// microseconds (the default, the body unchanged); the transfer
// notification page types amounts as "float" (Modes.HookAmounts float:
// 10000.0), the report pages write times as "YYYY-MM-DD HH:MM:SS"
// (Modes.HookTimes space, Moscow time, bank131.ZonelessLocation), and the
// webhook page asks receivers to tolerate new fields (Modes.HookExtraFields).
// A rewritten body is re-encoded with its object keys sorted.
func (s *Server) hookForm(body []byte) ([]byte, error) { return s.forms(body, true) }

// forms is hookForm, with the extra fields only if extras is set (not for
// confirm_information, which the partner sends back unchanged).
func (s *Server) forms(body []byte, extras bool) ([]byte, error) {
	m := s.cfg.Modes
	if m.HookAmounts == modeInt && m.HookTimes == modeRFC3339 && (m.HookExtraFields == modeOff || !extras) {
		return body, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	v = s.rewrite(v, "")
	if top, ok := v.(map[string]any); ok && extras && m.HookExtraFields == modeOn {
		top["sandbox_extra"] = map[string]any{"note": "an unknown field; receivers must ignore it", "n": json.Number("1.50")}
		if sess, ok := top["session"].(map[string]any); ok {
			sess["sandbox_extra"] = []any{"x", json.Number("2")}
		}
	}
	return marshal(v)
}

// rewrite applies the amount and time forms to a decoded JSON value; key is
// the member name v was found under.
func (s *Server) rewrite(v any, key string) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = s.rewrite(e, k)
		}
	case []any:
		for i := range x {
			x[i] = s.rewrite(x[i], key)
		}
	case json.Number:
		if key == "amount" && s.cfg.Modes.HookAmounts == modeFloat && !strings.ContainsAny(string(x), ".eE") {
			return x + ".0"
		}
	case string:
		if s.cfg.Modes.HookTimes == modeSpace && len(x) == len(bank131.TimeLayout)-5 { // "Z07:00" writes "Z" for UTC
			if t, err := time.Parse(bank131.TimeLayout, x); err == nil {
				return t.In(bank131.ZonelessLocation).Format("2006-01-02 15:04:05")
			}
		}
	}
	return v
}
