// Package bank131 is payrun's client for the Bank 131 partner API: request
// signing (RSA PKCS#1 v1.5 over SHA-256 of the exact body bytes, Base64 in
// X-PARTNER-SIGN), the session, token and cross-border (BPA) calls the
// payout flows need, errors typed by the bank's error.code and classified for
// retries, webhook verification and parsing, and the daily report of
// successful operations (ParseDailyReport).
//
// The wire format follows the bank's API v1 names (payment_method, payments,
// acquiring_payments); the v2 names (payout_details, payout_list,
// payment_list) are understood when reading. Metadata is any JSON value and is
// kept as json.RawMessage. confirm_information is carried back to the bank
// byte for byte as it was received.
//
// Card numbers given for bank_card payouts are never logged: BankCard masks
// itself when formatted, and debug logging of request bodies passes through
// cardmask.Redact. The bank's own text (an error's description) is masked
// the same way wherever an error shows it.
package bank131
