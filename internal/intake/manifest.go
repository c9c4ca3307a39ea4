package intake

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/payrun/payrun/internal/payout"
)

// EncodeManifest returns the manifest message of m: json.Marshal's JSON of
// it (see the package comment).
func EncodeManifest(m *payout.Manifest) ([]byte, error) {
	data, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return data, nil
}

// DecodeManifest reads a manifest message and refuses one without a valid
// batch id.
func DecodeManifest(data []byte) (*payout.Manifest, error) {
	var m payout.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("manifest is not JSON: %w", err)
	}
	if !payout.ValidBatchID(m.Batch) {
		return nil, errors.New("manifest has no valid batch id")
	}
	return &m, nil
}
