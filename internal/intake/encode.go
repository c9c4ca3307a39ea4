package intake

import (
	"bytes"
	"encoding/hex"
	"io"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/payrun/payrun/internal/payout"
)

// EncodeRow returns the row message of r (see the package comment).
func EncodeRow(r *payout.Row) []byte { return AppendRow(nil, r) }

// AppendRow appends the row message of r to b: the JSON of r exactly as
// encoding/json with SetEscapeHTML(false) writes it (field order,
// omitempty, escaping), written by hand because that is about five times
// faster and allocates nothing (ingest writes one per row; bench/README.md).
// TestAppendRowMatchesEncodingJSON fills every field of payout.Row by
// reflection, so a field added to Row without being added here fails the
// test.
func AppendRow(b []byte, r *payout.Row) []byte {
	b = append(b, `{"batch":`...)
	b = appendString(b, r.Batch)
	b = append(b, `,"row":`...)
	b = strconv.AppendInt(b, int64(r.Index), 10)
	b = append(b, `,"line":`...)
	b = strconv.AppendInt(b, int64(r.Line), 10)
	b = append(b, `,"reference":`...)
	b = appendString(b, r.Reference)
	b = append(b, `,"method":`...)
	b = appendString(b, string(r.Method))
	b = append(b, `,"amount":{"minor":`...)
	b = strconv.AppendInt(b, r.Amount.Minor, 10)
	b = append(b, `,"currency":`...)
	b = appendString(b, r.Amount.Currency)
	b = append(b, '}')
	b = appendOpt(b, "description", r.Description)
	b = appendOpt(b, "email", r.Email)
	b = appendOpt(b, "phone", r.Phone)
	b = appendOpt(b, "full_name", r.FullName)
	if c := r.Card; c != nil {
		b = append(b, `,"card":{"sealed":`...)
		b = appendString(b, c.Sealed)
		b = append(b, `,"bin":`...)
		b = appendString(b, c.BIN)
		b = append(b, `,"last4":`...)
		b = appendString(b, c.Last4)
		b = appendOpt(b, "fingerprint", c.Fingerprint)
		b = append(b, '}')
	}
	b = appendOpt(b, "card_token", r.CardToken)
	if e := r.Encrypted; e != nil {
		b = append(b, `,"encrypted_card":{"number_hash":`...)
		b = appendString(b, e.NumberHash)
		b = appendOpt(b, "expiration_date_hash", e.ExpirationDateHash)
		b = appendOpt(b, "cardholder_name_hash", e.CardholderNameHash)
		b = appendOpt(b, "security_code_hash", e.SecurityCodeHash)
		b = append(b, '}')
	}
	if t := r.Transfer; t != nil {
		b = append(b, `,"transfer":{"country":`...)
		b = appendString(b, t.Country)
		b = append(b, `,"transfer_type":`...)
		b = appendString(b, string(t.Type))
		b = appendOpt(b, "iban", t.IBAN)
		b = appendOpt(b, "recipient_card_token", t.RecipientCardToken)
		b = appendReq(b, "sender_card_token", t.SenderCardToken)
		b = appendOpt(b, "recipient_first_name", t.RecipientFirstName)
		b = appendOpt(b, "recipient_last_name", t.RecipientLastName)
		b = appendReq(b, "recipient_citizenship", t.RecipientCitizenship)
		b = appendOpt(b, "recipient_phone", t.RecipientPhone)
		b = appendReq(b, "sender_first_name", t.SenderFirstName)
		b = appendReq(b, "sender_last_name", t.SenderLastName)
		b = appendOpt(b, "sender_middle_name", t.SenderMiddleName)
		b = appendReq(b, "sender_birth_date", t.SenderBirthDate)
		b = appendReq(b, "sender_citizenship", t.SenderCitizenship)
		b = appendReq(b, "sender_document_number", t.SenderDocNumber)
		b = appendReq(b, "sender_document_issue_date", t.SenderDocIssueDate)
		b = appendOpt(b, "sender_document_issued_by", t.SenderDocIssuedBy)
		b = appendOpt(b, "sender_document_division_code", t.SenderDocDivision)
		b = appendOpt(b, "sender_foreign_document_number", t.SenderForeignDocNumber)
		b = appendOpt(b, "sender_foreign_document_valid_from", t.SenderForeignDocValidFrom)
		b = appendOpt(b, "sender_foreign_document_valid_to", t.SenderForeignDocValidTo)
		b = appendOpt(b, "sender_foreign_document_type", t.SenderForeignDocType)
		b = appendOpt(b, "sender_foreign_document_issued_by", t.SenderForeignDocIssuedBy)
		b = appendReq(b, "sender_phone", t.SenderPhone)
		b = appendReq(b, "sender_country", t.SenderCountry)
		b = appendReq(b, "sender_city", t.SenderCity)
		b = appendReq(b, "sender_building", t.SenderBuilding)
		b = appendOpt(b, "sender_postal_code", t.SenderPostalCode)
		b = appendOpt(b, "sender_state", t.SenderState)
		b = appendOpt(b, "sender_street", t.SenderStreet)
		b = appendOpt(b, "sender_flat", t.SenderFlat)
		b = appendOpt(b, "source_of_money", t.SourceOfMoney)
		b = append(b, '}')
	}
	if len(r.Meta) > 0 {
		b = append(b, `,"meta":{`...)
		keys := make([]string, 0, len(r.Meta))
		for k := range r.Meta {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendString(b, r.Meta[k])
		}
		b = append(b, '}')
	}
	b = appendOpt(b, "digest", r.Digest)
	return append(b, '}')
}

// cardSealedKey starts a row message's card object; a string value cannot
// hold it (its quotes would be escaped), so its first occurrence is the card.
const cardSealedKey = `,"card":{"sealed":"`

// fingerprintKey starts the card's fingerprint in a row message.
const fingerprintKey = `,"fingerprint":"`

// WriteDigestInput writes to w the bytes AppendDigestInput(r, pan) appends,
// from msg = AppendRow(r) of the row without its digest: the same bytes,
// without encoding the row a second time (ingest does this for every row;
// TestWriteDigestInput holds the two to the same bytes). It returns false,
// writing nothing, when msg has a digest or its card object is not as
// AppendRow writes it.
func WriteDigestInput(w io.Writer, msg []byte, pan string) bool {
	// A digest is the last field: ,"digest":"<64 hex>"} ends the message.
	if tail := len(digestKey) + 2*sha256Size + 2; len(msg) >= tail && bytes.HasPrefix(msg[len(msg)-tail:], []byte(digestKey)) {
		return false
	}
	i := bytes.Index(msg, []byte(cardSealedKey))
	if i < 0 {
		w.Write(msg)
		return true
	}
	// The card object as AppendRow writes it: sealed, bin, last4 and an
	// optional fingerprint, strings each.
	sealed := i + len(cardSealedKey)
	p := stringEnd(msg, sealed) // the closing quote of the sealed value
	if p < 0 {
		return false
	}
	binStart := p + 1
	for _, key := range []string{`,"bin":"`, `,"last4":"`} {
		if !bytes.HasPrefix(msg[p+1:], []byte(key)) {
			return false
		}
		if p = stringEnd(msg, p+1+len(key)); p < 0 {
			return false
		}
	}
	binEnd := p + 1
	if bytes.HasPrefix(msg[p+1:], []byte(fingerprintKey)) {
		if p = stringEnd(msg, p+1+len(fingerprintKey)); p < 0 {
			return false
		}
	}
	if p+1 >= len(msg) || msg[p+1] != '}' {
		return false
	}
	w.Write(msg[:sealed])
	w.Write(appendString(nil, pan)[1:]) // the number and its closing quote
	w.Write(msg[binStart:binEnd])
	w.Write(msg[p+1:])
	return true
}

// stringEnd is the index of the quote that closes the JSON string whose
// text starts at b[i], or -1.
func stringEnd(b []byte, i int) int {
	for ; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// sha256Size is the length of a SHA-256 in bytes; digestKey starts a
// row's digest.
const (
	sha256Size = 32
	digestKey  = `,"digest":"`
)

// AppendDigest appends digest (hex) to msg, AppendRow's message of a row
// without one: the bytes AppendRow writes for the row with that digest.
func AppendDigest(msg []byte, digest string) []byte {
	msg = append(msg[:len(msg)-1], digestKey...)
	msg = append(msg, digest...)
	return append(msg, '"', '}')
}

// AppendDigestSum is AppendDigest of the digest sum in hex, without making
// its string.
func AppendDigestSum(msg []byte, sum [sha256Size]byte) []byte {
	msg = append(msg[:len(msg)-1], digestKey...)
	msg = hex.AppendEncode(msg, sum[:])
	return append(msg, '"', '}')
}

// AppendDigestInput appends what a row's keyed digest covers (see the
// package comment): the row message of r with the card number pan in
// place of the sealed one, and neither the digest nor the card's
// fingerprint. Every field of the row is covered, as AppendRow writes it;
// the bytes never leave the process that holds the number.
func AppendDigestInput(b []byte, r *payout.Row, pan string) []byte {
	plain := *r
	plain.Digest = ""
	if r.Card != nil {
		c := *r.Card
		c.Sealed, c.Fingerprint = pan, ""
		plain.Card = &c
	}
	return AppendRow(b, &plain)
}

func appendReq(b []byte, key, v string) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return appendString(b, v)
}

func appendOpt(b []byte, key, v string) []byte {
	if v == "" {
		return b
	}
	return appendReq(b, key, v)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string the way encoding/json does
// without HTML escaping.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
