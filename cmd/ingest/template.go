package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/payrun/payrun/internal/batch"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/spreadsheet"
)

// runTemplate is "ingest template": it writes the payout file template of a
// method (batch.WriteTemplate) to --out or stdout.
func runTemplate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ingest template", flag.ContinueOnError)
	fs.SetOutput(stderr)
	method := fs.String("method", "", "the `method` of the template: card, token, encrypted_card or transfer (required)")
	lang := fs.String("lang", "en", "language of the column names and the example: en or ru")
	format := fs.String("format", "csv", "`format`: csv or xlsx (with the rules as a second sheet)")
	dialect := fs.String("csv-dialect", "", "`dialect` of a CSV template: excel-ru or rfc4180 (default excel-ru for --lang ru, rfc4180 for en)")
	out := fs.String("out", "", "write the template to `FILE` instead of stdout")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: ingest template --method METHOD [--lang ru|en] [--format csv|xlsx] [--out FILE]\n\n"+
			"Writes a payout file template: the header of the method's columns and one example row\n"+
			"(replace it with your payouts; a row whose reference starts with %s is refused).\n\nFlags:\n", batch.ExamplePrefix)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitCannot
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "ingest template:", err)
		return exitCannot
	}
	if fs.NArg() > 0 {
		return fail(fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	m, ok := payout.ParseMethod(*method)
	if !ok {
		return fail(fmt.Errorf("--method %q: use card, token, encrypted_card or transfer", *method))
	}
	l, err := batch.ParseLang(*lang)
	if err != nil {
		return fail(fmt.Errorf("--lang: %w", err))
	}
	f, err := batch.ParseTemplateFormat(*format)
	if err != nil {
		return fail(fmt.Errorf("--format: %w", err))
	}
	var d spreadsheet.Dialect
	if *dialect != "" {
		if d, err = spreadsheet.ParseDialect(*dialect); err != nil {
			return fail(fmt.Errorf("--csv-dialect: %w", err))
		}
	}
	if *out == "" {
		if err := batch.WriteTemplate(stdout, m, l, f, d); err != nil {
			return fail(err)
		}
		return exitOK
	}
	tmp, err := os.CreateTemp(filepath.Dir(*out), "."+filepath.Base(*out)+".*")
	if err != nil {
		return fail(err)
	}
	defer os.Remove(tmp.Name())
	err = batch.WriteTemplate(tmp, m, l, f, d)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), *out)
	}
	if err != nil {
		return fail(err)
	}
	return exitOK
}
