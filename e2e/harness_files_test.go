// The harness's payout files: rows for each method, written as finance
// would, and the check that no card number leaked into what the run wrote.

package e2e

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// payoutFile writes a payout file with the given rows (column → value).
func payoutFile(t testing.TB, dir, name string, rows []map[string]string) string {
	t.Helper()
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	require.NoError(t, w.Write(columns))
	for _, r := range rows {
		rec := make([]string, len(columns))
		for i, c := range columns {
			rec[i] = r[c]
		}
		require.NoError(t, w.Write(rec))
	}
	w.Flush()
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o600))
	return path
}

var columns = strings.Split("reference,method,amount,currency,full_name,card_number,card_token,number_hash,"+
	"expiration_date_hash,cardholder_name_hash,security_code_hash,description,email,phone,country,transfer_type,"+
	"iban,recipient_card_token,sender_card_token,recipient_first_name,recipient_last_name,recipient_citizenship,"+
	"recipient_phone,sender_first_name,sender_last_name,sender_middle_name,sender_birth_date,sender_citizenship,"+
	"sender_document_number,sender_document_issue_date,sender_document_issued_by,sender_foreign_document_number,"+
	"sender_foreign_document_valid_from,sender_foreign_document_valid_to,sender_foreign_document_type,sender_phone,sender_country,"+
	"sender_city,sender_street,sender_building", ",")

func cardRow(ref, amount, name, pan string) map[string]string {
	return map[string]string{"reference": ref, "method": "card", "amount": amount, "currency": "RUB", "full_name": name, "card_number": pan}
}

func tokenRow(ref, amount, name, token string) map[string]string {
	return map[string]string{"reference": ref, "method": "token", "amount": amount, "currency": "RUB", "full_name": name, "card_token": token}
}

func widgetRow(ref, amount, name, hash string) map[string]string {
	return map[string]string{"reference": ref, "method": "encrypted_card", "amount": amount, "currency": "RUB", "full_name": name,
		"number_hash": hash, "expiration_date_hash": strings.Repeat("ab", 32)}
}

func transferRow(ref, amount, currency, typ string) map[string]string {
	r := map[string]string{"reference": ref, "method": "transfer", "amount": amount, "currency": currency,
		"transfer_type": typ, "sender_card_token": "tok_sender_9a8b7c6d",
		"recipient_first_name": "Mehmet", "recipient_last_name": "Yilmaz", "recipient_citizenship": "TUR",
		"sender_first_name": "Иван", "sender_last_name": "Иванов", "sender_middle_name": "Петрович",
		"sender_birth_date": "1985-03-14", "sender_citizenship": "RUS", "sender_document_number": "4510 123456",
		"sender_document_issue_date": "2015-04-20", "sender_document_issued_by": "ОВД Тверского района",
		"sender_phone": "+79161234567", "sender_country": "RUS", "sender_city": "Москва", "sender_street": "Тверская",
		"sender_building": "1"}
	switch typ {
	case "cash":
		r["country"] = "TUR"
	case "iban":
		r["country"], r["iban"] = "TUR", "TR330006100519786457841326"
	case "card":
		r["country"], r["recipient_card_token"], r["recipient_citizenship"] = "KGZ", "tok_mbank_1c2d3e4f", "KGZ"
	}
	return r
}

func itoa(n int) string { return strconv.Itoa(n) }

// logsHaveNoCardNumbers checks that no full card number reached any log,
// the JetStream store or the ledger's database.
func logsHaveNoCardNumbers(t *testing.T, s *system, pans ...string) {
	t.Helper()
	err := filepath.WalkDir(s.dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.HasSuffix(path, ".csv") {
			return nil // the finance file itself
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, pan := range pans {
			require.NotContains(t, string(b), pan, "full card number in %s", path)
		}
		return nil
	})
	require.NoError(t, err)
}
