// Package batchtest generates valid payout files of any size for tests and
// benchmarks, without keeping them in memory.
package batchtest

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
)

// Header is the header of the files Write produces.
const Header = "reference,method,amount,currency,full_name,card_number,card_token,number_hash,meta_department,description,email,phone"

// PANs are the Luhn-valid test card numbers the generated card rows use.
var PANs = []string{"4242424242424242", "5555555555554444", "2200000000000004"}

// Write writes a valid payout file of n rows: methods cycle card, token,
// encrypted_card, card; references are E-0000001, E-0000002, ...; amounts
// are 1000.50 + (i mod 50000) RUB. The same n gives the same bytes.
func Write(w io.Writer, n int) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(Header + "\n")
	buf := make([]byte, 0, 512)
	for i := 1; i <= n; i++ {
		buf = buf[:0]
		buf = fmt.Appendf(buf, "E-%07d,", i)
		pan, token, hash := "", "", ""
		method := "card"
		switch i % 4 {
		case 1, 3:
			pan = PANs[i%len(PANs)]
		case 2:
			method, token = "token", "tok_"+strconv.FormatInt(int64(i)*2654435761%(1<<40), 16)
		case 0:
			method = "encrypted_card"
			hash = fmt.Sprintf("%064x", i)
		}
		name := "Ivan Petrov"
		if i%2 == 0 {
			name = "Иванов Иван Иванович"
		}
		buf = fmt.Appendf(buf, "%s,%d.50,RUB,%s,%s,%s,%s,dept-%d,Salary November 2026,user%d@example.com,+7999%07d\n",
			method, 1000+i%50000, name, pan, token, hash, i%17, i, i%10_000_000)
		if _, err := bw.Write(buf); err != nil {
			return err
		}
	}
	return bw.Flush()
}
