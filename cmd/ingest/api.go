package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strconv"

	"github.com/payrun/payrun/internal/httpapi"
	"github.com/payrun/payrun/internal/ingest"
)

// uploadAPI uploads the file (already validated here) through payrun's
// authenticated API, as the person whose token it is: the API validates
// it again, seals and publishes it, and names the uploader in the batch.
// It returns the exit code.
func uploadAPI(ctx context.Context, c *config, stdout, stderr io.Writer) int {
	tok, err := httpapi.LoadToken(c.tokenFile)
	if err != nil {
		fmt.Fprintln(stderr, "ingest:", err)
		return exitCannot
	}
	fields := map[string]string{"file_name": filepath.Base(c.file)}
	if c.name != "" {
		fields["name"] = c.name
	}
	if c.scheduleAt != "" {
		fields["schedule_at"] = c.scheduleAt
	}
	if c.requireApproval {
		fields["require_approval"] = "true"
	}
	if c.expectCount > 0 {
		fields["expect_count"] = strconv.Itoa(c.expectCount)
	}
	if c.expectTotal != "" {
		fields["expect_total"] = c.expectTotal
	}
	for k, v := range map[string]string{"method": c.method, "sheet": c.sheet, "lang": c.lang} {
		if v != "" {
			fields[k] = v
		}
	}
	var res ingest.Result
	if _, err := httpapi.NewClient(c.api, tok).Upload(ctx, "/batches", c.file, fields, &res); err != nil {
		fmt.Fprintln(stderr, "ingest:", err)
		return exitCannot
	}
	if res.Status == ingest.StatusInvalid {
		if c.jsonOut {
			printJSON(stdout, &res)
		} else {
			for _, e := range res.Errors {
				fmt.Fprintln(stderr, located(c.file, e))
			}
			fmt.Fprintf(stderr, "%s: %s; nothing published\n", c.file, countErrors(&res))
		}
		return exitInvalid
	}
	c.print(stdout, &res)
	return exitOK
}
