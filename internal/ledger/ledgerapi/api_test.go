package ledgerapi

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestErrorVocabulary(t *testing.T) {
	mark := &Error{Code: CodeNotFound}
	tests := []struct {
		name string
		err  error
		code Code
		msg  string // ErrorMessage
		text string // Error()
	}{
		{"nil", nil, "", "", ""},
		{"an Error", Errorf(CodeStale, "row is at gen %d", 2), CodeStale, "row is at gen 2", "row is at gen 2"},
		{"a mark wrapped with context", fmt.Errorf("batch %s: %w", "b1", mark), CodeNotFound, "batch b1: not found", "batch b1: not found"},
		{"a mark", &Error{Code: CodeForeignSession}, CodeForeignSession, "foreign session", "foreign session"},
		{"a plain error", errors.New("disk I/O error"), CodeInternal, "internal error", "disk I/O error"},
		{"an internal Error", Errorf(CodeInternal, "sqlite busy"), CodeInternal, "internal error", "sqlite busy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.code, ErrorCode(tt.err))
			require.Equal(t, tt.msg, ErrorMessage(tt.err))
			if tt.err == nil {
				require.Nil(t, AsError(tt.err))
				return
			}
			require.Equal(t, tt.text, tt.err.Error())
			require.Equal(t, &Error{Code: tt.code, Message: tt.msg}, AsError(tt.err))
			require.True(t, IsCode(tt.err, tt.code) || tt.code == CodeInternal)
		})
	}
	require.False(t, IsCode(errors.New("x"), CodeInternal), "IsCode needs an Error")
}
