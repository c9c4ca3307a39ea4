package httpapi

import "testing"

func TestAuditPathCutsLinkTokens(t *testing.T) {
	for in, want := range map[string]string{
		"/r/0123abcd.zz.sig":      "/r/…",
		"/r/0123abcd.zz.sig/card": "/r/…/card",
		"/r/static/recipient.js":  "/r/static/recipient.js",
		"/batches/b1/rows/2/link": "/batches/b1/rows/2/link",
	} {
		if got := auditPath(in); got != want {
			t.Errorf("auditPath(%q) = %q, want %q", in, got, want)
		}
	}
}
