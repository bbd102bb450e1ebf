package signoff_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"example.com/signoff"
)

func TestVerifyWebhookAcceptsTheStandardExampleAndRefusesTampering(t *testing.T) {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	body := []byte(`{"test": 2432232314}`)
	now := time.Unix(1614265330, 0)
	if _, err := signoff.VerifyWebhook(secret, h, body, now); err != nil {
		t.Fatalf("the example must verify: %v", err)
	}
	if _, err := signoff.VerifyWebhook(secret, h, []byte(`{"test": 2432232315}`), now); !errors.Is(err, signoff.ErrWebhookVerification) {
		t.Fatalf("a changed body must not verify: %v", err)
	}
	if _, err := signoff.VerifyWebhook(secret, h, body, now.Add(6*time.Minute)); !errors.Is(err, signoff.ErrWebhookVerification) {
		t.Fatalf("an old delivery must not verify: %v", err)
	}
}

func TestALogoutArrivesAsAVerifiedSessionEndedEvent(t *testing.T) {
	base := server(t)
	secret, port := os.Getenv("SIGNOFF_WEBHOOK_SECRET"), os.Getenv("SIGNOFF_WEBHOOK_PORT_GO")
	if secret == "" || port == "" {
		t.Skip("SIGNOFF_WEBHOOK_SECRET or SIGNOFF_WEBHOOK_PORT_GO is not set")
	}
	var mu sync.Mutex
	var events []signoff.SessionEnded
	mux := http.NewServeMux()
	mux.Handle("/hook", signoff.WebhookHandler(secret, func(e signoff.SessionEnded) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()

	email := freshUser(t, base)
	c := signoff.NewClient(base)
	ctx := context.Background()
	login, err := c.Login(ctx, email, password)
	if err != nil {
		t.Fatal(err)
	}
	userID, _ := login.User["id"].(string)
	if _, err := c.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		for _, e := range events {
			if e.Data.UserID == userID {
				mu.Unlock()
				if e.Type != "session.ended" || e.Data.Reason != "logout" || e.Data.Kind != "token" {
					t.Fatalf("unexpected event %+v", e)
				}
				if e.Data.CredentialsExpireAt == nil || !strings.Contains(*e.Data.CredentialsExpireAt, "T") {
					t.Fatalf("credentials_expire_at missing: %+v", e.Data)
				}
				return
			}
		}
		mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("no verified event for the logout within 10 s")
}
