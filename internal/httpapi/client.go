package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
)

// Client calls payrun's HTTP API with an API token, as the CLI does for a
// person (`ledger approve`, `ingest --api`). Error answers come back as
// *ledgerapi.Error, so callers test ledgerapi.IsCode as for the ledger.
type Client struct {
	Base  string // "http://127.0.0.1:8132"
	Token string
	HTTP  *http.Client
}

// NewClient returns a client for the API at base.
func NewClient(base, token string) *Client {
	return &Client{Base: strings.TrimRight(base, "/"), Token: token, HTTP: &http.Client{Timeout: 10 * time.Minute}}
}

func (c *Client) request(ctx context.Context, method, path, contentType string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	return req, nil
}

// Do sends in as JSON (nil: no body) and decodes the answer into out (nil:
// discarded). An error answer is its *ledgerapi.Error.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	ct := ""
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		body, ct = bytes.NewReader(b), "application/json"
	}
	req, err := c.request(ctx, method, path, ct, body)
	if err != nil {
		return err
	}
	return c.send(req, out)
}

// Raw sends a body of its own type and returns the answer's body (for
// exports: CSV).
func (c *Client) Raw(ctx context.Context, method, path, contentType string, body io.Reader) ([]byte, error) {
	req, err := c.request(ctx, method, path, contentType, body)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := c.send(req, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Upload posts a file as the multipart field "file" with form fields,
// streamed (the file is never held in memory), and decodes the answer.
// An answer with a body the caller wants (422 invalid: the errors) is
// decoded into out and also returned as the error.
func (c *Client) Upload(ctx context.Context, path, file string, fields map[string]string, out any) (int, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, fmt.Errorf("upload: %w", err)
	}
	defer f.Close()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		for k, v := range fields {
			if err := mw.WriteField(k, v); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		part, err := mw.CreateFormFile("file", filepath.Base(file))
		if err == nil {
			_, err = io.Copy(part, f)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, err := c.request(ctx, http.MethodPost, path, mw.FormDataContentType(), pr)
	if err != nil {
		return 0, err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, fmt.Errorf("upload to %s: %w", c.Base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, fmt.Errorf("upload to %s: %w", c.Base, err)
	}
	if resp.StatusCode == http.StatusUnprocessableEntity || resp.StatusCode < 300 {
		return resp.StatusCode, json.Unmarshal(b, out)
	}
	return resp.StatusCode, answerError(resp, b)
}

func (c *Client) send(req *http.Request, out any) error {
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode >= 300 {
		return answerError(resp, b)
	}
	switch o := out.(type) {
	case nil:
		return nil
	case *bytes.Buffer:
		o.Write(b)
		return nil
	}
	if len(b) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", req.Method, req.URL.Path, err)
	}
	return nil
}

// answerError reads payrun's one error answer; anything else (a proxy's
// page) is described by its status.
func answerError(resp *http.Response, b []byte) error {
	var body errorBody
	if json.Unmarshal(b, &body) == nil && body.Error != nil && body.Error.Code != "" {
		return body.Error
	}
	return ledgerapi.Errorf(ledgerapi.CodeInternal, "%s %s: %s", resp.Request.Method, resp.Request.URL.Path, resp.Status)
}

// TokenEnv holds an API token for the CLI when no --token-file is given.
const TokenEnv = "PAYRUN_TOKEN"

// LoadToken reads the CLI's token: the file's first line, else
// $PAYRUN_TOKEN.
func LoadToken(file string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("token file: %w", err)
		}
		return strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]), nil
	}
	if t := strings.TrimSpace(os.Getenv(TokenEnv)); t != "" {
		return t, nil
	}
	return "", fmt.Errorf("no API token: give --token-file FILE or set $%s (an admin creates one: ledger tokens create)", TokenEnv)
}
