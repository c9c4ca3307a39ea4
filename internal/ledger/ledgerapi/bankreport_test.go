package ledgerapi

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/money"
)

func TestReportChunks(t *testing.T) {
	rep := &bank131.DailyReport{ID: "ab", Source: "all_2026-11-25_2026-11-25.csv", Days: []string{"2026-11-25"}}
	for i := 1; i <= 50; i++ {
		fee := money.New(1000, "RUB")
		rep.Lines = append(rep.Lines, bank131.ReportLine{Line: i, OperationID: fmt.Sprintf("po_%d", i), SessionID: fmt.Sprintf("ps_%d", i),
			Type: bank131.ReportAdvice, TransactionDate: "2026-11-25", FinishedAt: "2026-11-25T09:00:00.000000Z",
			Amount: money.New(100, "RUB"), Fee: &fee, PaymentFast: "0", PaymentMethod: "bank_card", Contract: "payrun"})
	}
	chunks := Chunks(rep, 2000)
	require.Greater(t, len(chunks), 3)
	n := 0
	for i, c := range chunks {
		require.Equal(t, i == len(chunks)-1, c.Final)
		require.Equal(t, 50, c.Total)
		n += len(c.Lines)
	}
	require.Equal(t, 50, n)
	empty := &bank131.DailyReport{ID: "ab", Source: "x_2026-11-25.csv", Days: []string{"2026-11-25"}}
	require.Len(t, Chunks(empty, 0), 1)
	require.True(t, Chunks(empty, 0)[0].Final)
}

// TestSendChunksAfterAlready: once the ledger says the report was
// imported before, only the final chunk follows, without its lines.
func TestSendChunksAfterAlready(t *testing.T) {
	chunks := []ReportChunk{{Report: "r", Total: 3, Lines: make([]bank131.ReportLine, 1)},
		{Report: "r", Total: 3, Lines: make([]bank131.ReportLine, 1)}, {Report: "r", Total: 3, Lines: make([]bank131.ReportLine, 1), Final: true}}
	var sent []ReportChunk
	res, err := SendChunks(chunks, func(c ReportChunk) (*ReportImport, error) {
		sent = append(sent, c)
		return &ReportImport{Report: c.Report, Already: true, Complete: true, Batches: []string{"b2", "b1"}}, nil
	})
	require.NoError(t, err)
	require.Len(t, sent, 2)
	require.True(t, sent[1].Final)
	require.Empty(t, sent[1].Lines)
	require.True(t, res.Already)
	require.Equal(t, []string{"b1", "b2"}, res.Batches)
}

// TestReportChunkWire pins the JSON a report chunk carries over NATS: the
// line type is the bank's (bank131.ReportLine), the names are ours.
func TestReportChunkWire(t *testing.T) {
	fee := money.New(1000, "RUB")
	c := ReportChunk{Report: "ab", Source: "x.csv", Days: []string{"2026-11-25"}, Total: 1, Final: true,
		Lines: []bank131.ReportLine{{Line: 1, OperationID: "po_1", SessionID: "ps_1", Metadata: `{"payrun":"b/1"}`,
			Type: bank131.ReportAdvice, TransactionDate: "2026-11-25", FinishedAt: "2026-11-25T09:00:00Z",
			Amount: money.New(150050, "RUB"), Fee: &fee, PaymentFast: "0", PaymentMethod: "bank_card", Contract: "payrun"}}}
	b, err := json.Marshal(c)
	require.NoError(t, err)
	require.JSONEq(t, `{"report":"ab","source":"x.csv","days":["2026-11-25"],"total":1,"final":true,"lines":[{"line":1,
		"operation_id":"po_1","session_id":"ps_1","metadata":"{\"payrun\":\"b/1\"}","type":"Advice",
		"transaction_date":"2026-11-25","finished_at":"2026-11-25T09:00:00Z","amount":{"minor":150050,"currency":"RUB"},
		"fee":{"minor":1000,"currency":"RUB"},"payment_fast":"0","payment_method":"bank_card","contract":"payrun"}]}`, string(b))
}
