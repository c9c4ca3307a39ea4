package batch

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestColumnNames: every column has a name, no two share one, and the
// names the errors report adds are columns the reader understands.
func TestColumnNames(t *testing.T) {
	seen := map[string]col{}
	for c, n := range columnNames {
		require.NotEmpty(t, n, "column %d has no name", c)
		require.Equal(t, normalizeName(n), n, "column %d", c)
		prev, dup := seen[n]
		require.False(t, dup, "%s names columns %d and %d", n, prev, c)
		seen[n] = col(c)
		require.Equal(t, col(c), columnByName[n])
	}
	require.Len(t, columnByName, int(numCols))
	require.Equal(t, ErrorColumnName, colErrorColumn.String())
	require.Equal(t, ErrorMessageName, colErrorMessage.String())
}

func TestMapHeader(t *testing.T) {
	tests := []struct {
		name    string
		rec     []string
		pos     map[col]int // the known columns found; every other is -1
		meta    []metaColumn
		unnamed []int
		errs    []Error
	}{
		{name: "plain", rec: []string{"reference", "method", "amount", "currency"},
			pos: map[col]int{colReference: 0, colMethod: 1, colAmount: 2, colCurrency: 3}},
		{name: "case, spaces, no-break spaces", rec: []string{" Reference ", "\u00a0METHOD\u00a0", "Amount", "error_column", "ERROR_MESSAGE"},
			pos: map[col]int{colReference: 0, colMethod: 1, colAmount: 2, colErrorColumn: 3, colErrorMessage: 4}},
		{name: "meta and unnamed", rec: []string{"reference", "", "meta_dept", "Meta_Cost Center", " "},
			pos: map[col]int{colReference: 0}, meta: []metaColumn{{"dept", 2}, {"cost center", 3}}, unnamed: []int{1, 4}},
		{name: "repeated: the first counts", rec: []string{"amount", "reference", "Amount", "meta_x", "META_X"},
			pos: map[col]int{colAmount: 0, colReference: 1}, meta: []metaColumn{{"x", 3}},
			errs: []Error{{Line: 1, Column: "amount", Message: "column appears twice (columns 1 and 3)"},
				{Line: 1, Column: "meta_x", Message: "column appears twice (columns 4 and 5)"}}},
		{name: "problems first, then unknown names", rec: []string{"refrence", "amount", "card 4111.1111.1111.1111", "meta_", "amount"},
			pos: map[col]int{colAmount: 1},
			errs: []Error{
				{Line: 1, Column: `"card 411111******1111"`, Message: "column name contains what looks like a card number (411111******1111)"},
				{Line: 1, Column: "amount", Message: "column appears twice (columns 2 and 5)"},
				{Line: 1, Column: "refrence", Message: "unknown column; did you mean reference? (to carry it into the report, name it meta_refrence)"},
				{Line: 1, Column: "meta_", Message: "unknown column; did you mean method? (to carry it into the report, name it meta_meta_)"},
			}},
		{name: "an invisible character", rec: []string{"refer\u200bence", "amount"}, pos: map[col]int{colAmount: 1},
			errs: []Error{{Line: 1, Column: `"refer\u200bence"`,
				Message: "column name contains an invisible character, U+200B (zero-width space), at character 6; delete it (it often comes with text pasted from a web page or a document)"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, errs := mapHeader(tt.rec, 1)
			for c := range numCols {
				want, ok := tt.pos[c]
				if !ok {
					want = -1
				}
				require.Equal(t, want, l.pos[c], "column %s", c)
			}
			require.Equal(t, tt.meta, l.meta)
			require.Equal(t, tt.unnamed, l.unnamed)
			require.Equal(t, tt.errs, errs)
			require.Len(t, l.names, len(tt.rec))
		})
	}
}
