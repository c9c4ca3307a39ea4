package secret

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
)

// LegacyKeySize is the length of the legacy data key in bytes.
const LegacyKeySize = 32

// LoadLegacyKey reads the data key of payrun before public-key sealing
// (README "Keys"): 64 hex characters on one line, nothing else. The
// processor reads it only to open card numbers sealed with it.
func LoadLegacyKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("data key: %w", err)
	}
	text := strings.TrimSpace(string(b))
	key, err := hex.DecodeString(text)
	if err != nil || len(key) != LegacyKeySize || strings.ContainsAny(text, " \t\r\n") {
		return nil, fmt.Errorf("data key %s: want 64 hex characters (32 bytes) on one line, as payrun up wrote it", path)
	}
	return key, nil
}

// openLegacy opens a value sealed with the legacy data key: base64 of the
// nonce and the AES-256-GCM ciphertext.
func (o *Opener) openLegacy(sealed, aad string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil {
		return "", fmt.Errorf("%w: not a sealed value", ErrOpen)
	}
	if o.legacy == nil {
		return "", fmt.Errorf("%w: sealed with the data key of an earlier payrun, which this processor was not given (--data-key)", ErrOpen)
	}
	return openGCM(o.legacy, raw, aad)
}
