package signoff

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SessionEnded is the body of a session.ended webhook delivery.
type SessionEnded struct {
	Type      string `json:"type"`      // "session.ended"
	Timestamp string `json:"timestamp"` // RFC 3339
	Data      struct {
		UserID   string `json:"user_id"`
		SigninID string `json:"signin_id"`
		Kind     string `json:"kind"`   // browser, token, jwt or personal
		Reason   string `json:"reason"` // logout, logout_others, logout_global, password_changed, …
		EndedAt  string `json:"ended_at"`
		// Until then a receiver must remember the sign-in as ended; nil: forever.
		CredentialsExpireAt *string `json:"credentials_expire_at"`
	} `json:"data"`
}

// ErrWebhookVerification is wrapped by every error VerifyWebhook returns.
var ErrWebhookVerification = errors.New("signoff: webhook verification failed")

// WebhookTolerance is how far a delivery's timestamp may be from the receiver's clock.
const WebhookTolerance = 5 * time.Minute

func verifyError(why string) error {
	return &wrapped{why: why}
}

type wrapped struct{ why string }

func (w *wrapped) Error() string { return ErrWebhookVerification.Error() + ": " + w.why }
func (w *wrapped) Unwrap() error { return ErrWebhookVerification }

// VerifyWebhook checks a delivery's Standard Webhooks signature (webhook-id, webhook-timestamp,
// webhook-signature) with secret ("whsec_…") and returns its body. now is the receiver's clock.
func VerifyWebhook(secret string, header http.Header, body []byte, now time.Time) (*SessionEnded, error) {
	id := header.Get("webhook-id")
	timestamp := header.Get("webhook-timestamp")
	signatures := header.Get("webhook-signature")
	if id == "" || timestamp == "" || signatures == "" {
		return nil, verifyError("missing webhook headers")
	}
	sentAt, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return nil, verifyError("malformed webhook-timestamp")
	}
	if d := now.Sub(time.Unix(sentAt, 0)); d > WebhookTolerance || d < -WebhookTolerance {
		return nil, verifyError("webhook-timestamp outside the tolerance")
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return nil, verifyError("the secret is not whsec_ followed by base64")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + timestamp + "."))
	mac.Write(body)
	expected := mac.Sum(nil)
	valid := false
	for _, s := range strings.Fields(signatures) {
		if !strings.HasPrefix(s, "v1,") {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "v1,"))
		if err == nil && hmac.Equal(got, expected) {
			valid = true
		}
	}
	if !valid {
		return nil, verifyError("no signature matches")
	}
	var event SessionEnded
	if err := json.Unmarshal(body, &event); err != nil {
		return nil, verifyError("the body is not JSON")
	}
	return &event, nil
}

// WebhookHandler is a verified receiver: it answers 204 and calls handle once per webhook-id
// for each delivery that verifies, and 400 (handle not called) for any other request. Deliveries
// are retried until answered 2xx, so the same id may arrive again; it is acknowledged and skipped.
func WebhookHandler(secret string, handle func(SessionEnded)) http.Handler {
	seen := newSeen(10_000)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "unreadable body", http.StatusBadRequest)
			return
		}
		event, err := VerifyWebhook(secret, r.Header, body, time.Now())
		if err != nil {
			http.Error(w, "invalid webhook", http.StatusBadRequest)
			return
		}
		if seen.add(r.Header.Get("webhook-id")) {
			handle(*event)
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
