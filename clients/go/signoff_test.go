package signoff_test

// Tests against a running server: SIGNOFF_URL=http://127.0.0.1:PORT go test ./...
// Tokens are only ever compared, never formatted into a message.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"example.com/signoff"
)

const password = "correct horse battery"

var counter int64

// server returns SIGNOFF_URL, skipping the test when it is not set.
func server(t *testing.T) string {
	t.Helper()
	base := strings.TrimRight(os.Getenv("SIGNOFF_URL"), "/")
	if base == "" {
		t.Skip("SIGNOFF_URL is not set")
	}
	return base
}

// call sends a request with an optional bearer token and JSON body and returns the status.
func call(t *testing.T, method, url, token string, body interface{}) int {
	t.Helper()
	var data []byte
	if body != nil {
		data, _ = json.Marshal(body)
	}
	req, err := http.NewRequest(method, url, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// freshUser registers a new user and returns its email.
func freshUser(t *testing.T, base string) string {
	t.Helper()
	email := fmt.Sprintf("go-%d-%d-%d@example.com", os.Getpid(), time.Now().UnixNano(), atomic.AddInt64(&counter, 1))
	if got := call(t, "POST", base+"/api/v1/account/register", "", map[string]string{"email": email, "password": password}); got != 201 {
		t.Fatalf("register: status %d", got)
	}
	return email
}

func TestLoginThenLogoutRevokesTheToken(t *testing.T) {
	base := server(t)
	ctx := context.Background()
	email := freshUser(t, base)
	c := signoff.NewClient(base)

	login, err := c.Login(ctx, email, password)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	if login.Status != 200 || login.User["email"] != email || !strings.HasPrefix(login.Token, "so_at_") {
		t.Fatalf("login: status %d, user %v, token has the so_at_ prefix: %v", login.Status, login.User, strings.HasPrefix(login.Token, "so_at_"))
	}
	if c.Token() != login.Token {
		t.Fatal("Token() is not the token Login returned")
	}
	if got := call(t, "GET", base+"/api/v1/account/me", login.Token, nil); got != 200 {
		t.Fatalf("me before logout: status %d", got)
	}

	logout, err := c.Logout(ctx)
	if err != nil {
		t.Fatalf("logout: %v", err)
	}
	if logout.Status != 200 || logout.StatusText != "OK" || logout.User != nil || logout.Token != "" {
		t.Fatalf("logout: status %d %q, user %v, token empty: %v", logout.Status, logout.StatusText, logout.User, logout.Token == "")
	}
	if c.Token() != "" {
		t.Fatal("the client still holds a token")
	}
	if got := call(t, "GET", base+"/api/v1/account/me", login.Token, nil); got != 401 {
		t.Fatalf("me after logout: status %d, want 401", got)
	}
}

func TestLogoutWithADeadTokenClearsItAndReports401(t *testing.T) {
	base := server(t)
	ctx := context.Background()
	c := signoff.NewClient(base)
	login, err := c.Login(ctx, freshUser(t, base), password)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	// Revoke the token behind the client's back.
	if got := call(t, "POST", base+"/auth/logout", login.Token, nil); got != 200 {
		t.Fatalf("revoke: status %d", got)
	}

	logout, err := c.Logout(ctx)
	var e *signoff.Error
	if !errors.As(err, &e) {
		t.Fatalf("logout: error %v, want a *signoff.Error", err)
	}
	if e.Status != 401 || e.Code != "UNAUTHORIZED" || e.Message != "Unauthorized" || e.Description == "" {
		t.Fatalf("logout: error %+v", *e)
	}
	if logout.Status != 401 || logout.StatusText != "Unauthorized" || logout.User != nil || logout.Token != "" {
		t.Fatalf("logout: status %d %q", logout.Status, logout.StatusText)
	}
	if c.Token() != "" {
		t.Fatal("the client still holds a token")
	}
}

func TestLoginWithAWrongPasswordKeepsTheOldToken(t *testing.T) {
	base := server(t)
	c := signoff.NewClient(base)
	c.SetToken("so_at_previous")
	resp, err := c.Login(context.Background(), freshUser(t, base), "wrong password")
	var e *signoff.Error
	if !errors.As(err, &e) || e.Status != 401 || e.Code != "401" || e.Message != "Invalid credentials." {
		t.Fatalf("login: error %v", err)
	}
	if resp.Status != 401 || resp.Token != "" || c.Token() != "so_at_previous" {
		t.Fatalf("login: status %d, token empty: %v, old token kept: %v", resp.Status, resp.Token == "", c.Token() == "so_at_previous")
	}
}

func TestLogoutAgainstAnUnreachableServerClearsTheToken(t *testing.T) {
	c := signoff.NewClient("http://127.0.0.1:9")
	c.SetToken("so_at_unreachable")
	resp, err := c.Logout(context.Background())
	var e *signoff.Error
	if err == nil || errors.As(err, &e) {
		t.Fatalf("logout: error %v, want a transport error", err)
	}
	if resp.Status != 0 || resp.StatusText == "" || resp.User != nil || resp.Token != "" {
		t.Fatalf("logout: status %d %q", resp.Status, resp.StatusText)
	}
	if c.Token() != "" {
		t.Fatal("the client still holds a token")
	}
}

func TestLogoutWithNoToken(t *testing.T) {
	c := signoff.NewClient("http://127.0.0.1:9")
	resp, err := c.Logout(context.Background())
	if !errors.Is(err, signoff.ErrNoToken) || resp.Status != 0 {
		t.Fatalf("logout: status %d, error %v, want ErrNoToken", resp.Status, err)
	}
}

func TestLogoutSaysWhyTheSignInEnded(t *testing.T) {
	base := server(t)
	email := freshUser(t, base)
	ctx := context.Background()
	here, there := signoff.NewClient(base), signoff.NewClient(base)
	if _, err := here.Login(ctx, email, password); err != nil {
		t.Fatal(err)
	}
	if _, err := there.Login(ctx, email, password); err != nil {
		t.Fatal(err)
	}
	if got := call(t, "POST", base+"/auth/logout", there.Token(), map[string]string{"scope": "global"}); got != 200 {
		t.Fatalf("log out everywhere: %d", got)
	}
	resp, err := here.Logout(ctx)
	var e *signoff.Error
	if !errors.As(err, &e) || e.Status != 401 || e.Reason != "logout_global" || resp.Reason != "logout_global" {
		t.Fatalf("want a 401 with reason logout_global, got %+v, %v", resp, err)
	}
	if _, err := here.Login(ctx, email, password); err != nil {
		t.Fatal(err)
	}
	resp, err = here.Logout(ctx)
	if err != nil || resp.Reason != "logout" {
		t.Fatalf("want reason logout, got %+v, %v", resp, err)
	}
}
