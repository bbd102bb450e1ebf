// Package signoff is a client for the Signoff server: Login and Logout (seed 003).
//
// It uses only the standard library. A Client holds the access token in memory; Logout
// revokes it on the server and always forgets it locally, whatever the server answers.
package signoff

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrNoToken is returned by Logout when the client holds no token: there is nothing to log out.
var ErrNoToken = errors.New("signoff: no token to log out: already logged out")

// Response is what Login and Logout return.
type Response struct {
	User       map[string]interface{} // the user ({"id","email"}); nil after Logout or on failure
	Token      string                 // the access token; "" after Logout or on failure
	Status     int                    // the HTTP status; 0 when no answer came
	StatusText string                 // the HTTP reason phrase ("OK"); the error's text when Status is 0
	// After Logout: why the sign-in is over. "logout" when this call ended it; on a 401, the
	// server's reason it had already ended ("logout_global", "password_changed", "idle", …);
	// "" when unknown.
	Reason string
}

// Error is the error of a non-2xx answer from the server. Login and Logout return it
// wrapped ("signoff: logout: 401 Unauthorized: …"); use errors.As to get it.
type Error struct {
	Status      int    // the HTTP status
	Code        string // the server's code, as text: "UNAUTHORIZED", "401", …
	Message     string // the server's message: "Unauthorized", "Invalid credentials.", …
	Description string // the server's longer explanation, if any
	Reason      string // on a 401: why the token's sign-in had ended, if the server said
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%d %s", e.Status, e.Message)
	if e.Description != "" {
		msg += ": " + e.Description
	}
	return msg
}

// Client talks to one Signoff server. It is safe for concurrent use.
type Client struct {
	BaseURL    string       // the server's origin, e.g. "https://signoff.example"
	HTTPClient *http.Client // the HTTP client used; its Timeout bounds every call

	mu    sync.Mutex
	token string
}

// NewClient returns a client of the server at baseURL, with a 10-second request timeout.
func NewClient(baseURL string) *Client {
	return &Client{
		BaseURL:    strings.TrimRight(baseURL, "/"),
		HTTPClient: &http.Client{Timeout: 10 * time.Second},
	}
}

// Token returns the current access token, or "" when logged out.
func (c *Client) Token() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token
}

// SetToken makes the client use a token saved earlier (e.g. from a previous Login).
func (c *Client) SetToken(token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.token = token
}

// Login logs in with POST /api/v1/account/login and keeps the token. On failure the
// error is an *Error (the server refused) or a transport error, and the token held
// before is kept.
func (c *Client) Login(ctx context.Context, email, password string) (Response, error) {
	body, err := json.Marshal(map[string]string{"email": email, "password": password})
	if err != nil {
		return Response{}, err
	}
	resp, data, err := c.post(ctx, "/api/v1/account/login", body, "")
	if err != nil {
		return resp, fmt.Errorf("signoff: login: %w", err)
	}
	var ok struct {
		Data struct {
			Token string                 `json:"token"`
			User  map[string]interface{} `json:"user"`
		} `json:"data"`
	}
	if json.Unmarshal(data, &ok) != nil || ok.Data.Token == "" {
		return resp, fmt.Errorf("signoff: login: the server sent no token (status %d)", resp.Status)
	}
	c.SetToken(ok.Data.Token)
	resp.User, resp.Token = ok.Data.User, ok.Data.Token
	return resp, nil
}

// Logout logs out with POST /auth/logout, revoking the token on the server, and always
// forgets the token locally. A nil error means the server confirmed the logout. An
// *Error with Status 401 means the token was already dead (expired or revoked): the
// client is logged out all the same. A transport error means the server may still
// accept the token until it expires. ErrNoToken means there was no token to send.
func (c *Client) Logout(ctx context.Context) (Response, error) {
	// Take the token out first: whatever happens next, this client no longer has it.
	c.mu.Lock()
	token := c.token
	c.token = ""
	c.mu.Unlock()
	if token == "" {
		return Response{StatusText: ErrNoToken.Error()}, ErrNoToken
	}
	resp, _, err := c.post(ctx, "/auth/logout", nil, token)
	if err != nil {
		return resp, fmt.Errorf("signoff: logout: %w", err)
	}
	resp.Reason = "logout"
	return resp, nil
}

// post sends a POST to the API. It returns the status, the body, and an error for a
// transport failure (Status 0) or a non-2xx answer (an *Error).
func (c *Client) post(ctx context.Context, path string, body []byte, token string) (Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		return Response{StatusText: err.Error()}, nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	httpResp, err := c.HTTPClient.Do(req)
	if err != nil {
		return Response{StatusText: err.Error()}, nil, err
	}
	defer httpResp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(httpResp.Body, 1<<20))
	resp := Response{Status: httpResp.StatusCode, StatusText: reason(httpResp)}
	if err != nil {
		return resp, nil, err
	}
	if httpResp.StatusCode < 200 || httpResp.StatusCode > 299 {
		// Why a token's sign-in had already ended, when the server says.
		resp.Reason = httpResp.Header.Get("Signoff-Ended-Reason")
		e := serverError(resp, data)
		e.Reason = resp.Reason
		return resp, data, e
	}
	return resp, data, nil
}

// reason is the reason phrase sent by the server ("Unauthorized"), or Go's own for the code.
func reason(r *http.Response) string {
	if phrase := strings.TrimPrefix(r.Status, strconv.Itoa(r.StatusCode)+" "); phrase != "" && phrase != r.Status {
		return phrase
	}
	return http.StatusText(r.StatusCode)
}

// serverError reads either envelope the server uses for errors:
// {"error":{"message","code"}} or {"message","description","code"}.
func serverError(resp Response, data []byte) *Error {
	type fields struct {
		Message     string          `json:"message"`
		Description string          `json:"description"`
		Code        json.RawMessage `json:"code"`
	}
	var body struct {
		fields
		Error *fields `json:"error"`
	}
	_ = json.Unmarshal(data, &body) // a body that is not JSON leaves the fields empty
	f := body.fields
	if body.Error != nil {
		f = *body.Error
	}
	e := &Error{Status: resp.Status, Message: f.Message, Description: f.Description, Code: strconv.Itoa(resp.Status)}
	if e.Message == "" {
		e.Message = resp.StatusText
	}
	var code string
	if json.Unmarshal(f.Code, &code) == nil {
		e.Code = code
	} else if len(f.Code) > 0 && string(f.Code) != "null" {
		e.Code = string(f.Code) // a number: its JSON text
	}
	return e
}
