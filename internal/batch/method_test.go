package batch

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/payout"
)

// TestMethodForTheFile: a file without a method column gets its rows'
// method from Options.Method (ingest --method) or from the filled columns.
func TestMethodForTheFile(t *testing.T) {
	hash := strings.Repeat("ab", 32)
	noMethod := "reference,amount,full_name,card_number,card_token,number_hash\n" +
		"R-1,100,Ivan Petrov,4242424242424242,,\n" +
		"R-2,100,Ivan Petrov,,tok_1,\n" +
		"R-3,100,Ivan Petrov,,," + hash + "\n"
	transfer := "reference,amount,currency,country,transfer_type,iban,recipient_first_name,recipient_last_name,recipient_citizenship," +
		"sender_card_token,sender_first_name,sender_last_name,sender_birth_date,sender_citizenship,sender_document_number," +
		"sender_document_issue_date,sender_phone,sender_country,sender_city,sender_building\n" +
		"T-1,1000,RUB,TUR,iban,TR330006100519786457841326,Mehmet,Yilmaz,TUR,tok_s,Ivan,Petrov,1985-03-14,RUS,4510 123456,2015-06-01,+79991234567,RUS,Moscow,1\n"
	tests := []struct {
		name     string
		file     string
		opts     Options
		byMethod map[string]int
		want     []string
	}{
		{name: "told by the columns", file: noMethod, byMethod: map[string]int{"card": 1, "token": 1, "encrypted_card": 1}},
		{name: "transfer told by its columns", file: transfer, byMethod: map[string]int{"transfer": 1}},
		{name: "the file's method", file: "reference,amount,full_name,card_token\nR-1,100,Ivan Petrov,tok_1\nR-2,100,Ivan Petrov,tok_2\n",
			opts: Options{Method: payout.MethodToken}, byMethod: map[string]int{"token": 2}},
		{name: "the file's method for empty cells only", file: "reference,method,amount,full_name,card_number,card_token\n" +
			"R-1,,100,Ivan Petrov,,tok_1\nR-2,card,100,Ivan Petrov,4242424242424242,\n",
			opts: Options{Method: payout.MethodToken}, byMethod: map[string]int{"token": 1, "card": 1}},
		{name: "the file's method wins over the columns", file: noMethod, opts: Options{Method: payout.MethodCard},
			byMethod: map[string]int{"card": 3},
			want: []string{"3: card_number: is required for method card", "warning: 3: card_token: ignored for method card",
				"4: card_number: is required for method card", "warning: 4: number_hash: ignored for method card"}},
		{name: "two methods in a row", file: "reference,amount,full_name,card_number,card_token,iban\n" +
			"R-1,100,Ivan Petrov,4242424242424242,tok_1,\nR-2,100,Ivan Petrov,4242424242424242,,TR330006100519786457841326\n",
			byMethod: map[string]int{},
			want: []string{
				"2: method: cannot tell the method: the row fills the columns of card_number (card) and card_token (token); fill in method or keep the columns of one method only",
				"3: method: cannot tell the method: the row fills the columns of card_number (card) and iban (transfer); fill in method or keep the columns of one method only",
			}},
		{name: "nothing to tell it by", file: "reference,amount,full_name\nR-1,100,Ivan Petrov\n", byMethod: map[string]int{},
			want: []string{"2: method: the file has no method column and the row has none of card_number, card_token, number_hash or the transfer columns; fill one in, add a method column or give the file's method (ingest --method)"}},
		{name: "in Russian", file: "Номер;Сумма;ФИО;Номер карты;Токен карты\nR-1;100;Иван Петров;4242424242424242;tok_1\n",
			opts: Options{Lang: "ru"}, byMethod: map[string]int{},
			want: []string{"2: method: нельзя определить способ выплаты: в строке заполнены колонки разных способов: card_number (card) и card_token (token); укажите method или оставьте колонки одного способа"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, got := validateText(t, tt.file, tt.opts)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.byMethod, res.ByMethod)
		})
	}
}

// TestMethodRows: the rows published carry the method told or given.
func TestMethodRows(t *testing.T) {
	file := "reference,amount,full_name,card_number,card_token\nR-1,100,Ivan Petrov,4242424242424242,\nR-2,100,Ivan Petrov,,tok_1\n"
	var methods []payout.Method
	for row, err := range Rows(strings.NewReader(file), Options{Now: testNow}, func(string, int) string { return "sealed" }) {
		require.NoError(t, err)
		methods = append(methods, row.Method)
	}
	require.Equal(t, []payout.Method{payout.MethodCard, payout.MethodToken}, methods)
}
