// Package intake is the format of PAYRUN_INTAKE's messages: the row message
// of every row of a batch, the chunk that carries consecutive row messages
// in one message, and the manifest that seals the batch. Ingest encodes them here, the ledger and the processor decode them
// here; nothing else reads or writes their bytes. The types are the payout
// domain's (payout.Row, payout.Manifest); this package owns their bytes.
//
// # The row message
//
// A row message is the JSON of a payout.Row exactly as encoding/json writes
// it with SetEscapeHTML(false): fields in the struct's order, empty optional
// fields left out (omitempty), strings escaped as encoding/json escapes
// them (\" \\ \n \r \t \b \f, other control characters as \u00XX, U+2028
// and U+2029 as \u2028 \u2029, invalid UTF-8 as \ufffd; < > & as they are),
// no spaces, no trailing newline, meta keys sorted. The bytes are part of
// the contract: the ledger keeps the SHA-256 of each message and the
// processor checks it before paying. testdata/golden holds the bytes of one
// message per method; a change to them breaks every stream written before.
//
// A card number is sealed to the processors' public key (package secret),
// which is randomized: the same file ingested twice gives different bytes.
// So every row message ingest writes now carries "digest", the keyed
// digest (secret.Sealer.RowDigest, hex) of AppendDigestInput's bytes: the
// row message with the card number in plaintext in place of the sealed one
// and without the digest and the fingerprint (WriteDigestInput writes the
// same bytes from the encoded message, AppendDigest adds the digest to it,
// so ingest encodes a row once). Ingest (resuming an upload)
// and the ledger (a row arriving again) compare rows by it; a card row also
// carries the card's keyed "fingerprint". Messages written before have
// neither and decode as before; they are compared by their SHA-256.
//
// DecodeRow accepts what encoding/json accepts into a payout.Row (the
// differential fuzz test FuzzDecodeRow holds it to that) and checks what
// makes a row message: a valid batch id, a row number, a positive amount,
// a meta object. Meta is kept as the message carries it (RowMessage.Meta).
//
// # The chunk
//
// Ingest publishes a batch's rows in chunks (chunk.go): one message of
// ChunkRows consecutive rows of one batch, rows k·ChunkRows+1 to
// (k+1)·ChunkRows of the file, so a chunk's rows and its Nats-Msg-Id
// (queue.ChunkMsgID) follow from the file alone. Its data is a first line
// "payrun.rows <first> <count>" and each row's message followed by a
// newline; a row message never holds a raw newline (AppendRow escapes
// every control character and writes no whitespace: FuzzChunk), so each
// row's bytes in a chunk are exactly its row message, and its SHA-256 and
// keyed digest are the ones it has alone. A message that does not begin
// with "payrun.rows " is one row message, as before chunks (a stream
// written before, the file's last, shorter block, a block an earlier
// upload stored some rows of). The ledger records a chunk's rows one by
// one, all in one transaction or none (a chunk that does not split, or
// holds a row that is not a row message, not of its batch or out of its
// place, is one invalid message); the processor finds its row in the
// chunk by number (ChunkRow) and checks that row's bytes against the
// ledger's digest.
//
// # The manifest
//
// A manifest is encoding/json's json.Marshal of a payout.Manifest (HTML
// characters escaped as \u003c \u003e \u0026, times in RFC 3339 with
// nanoseconds when they have them, totals' currencies sorted).
package intake
