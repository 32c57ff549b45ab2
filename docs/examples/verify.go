// Command verify checks an Agenta webhook delivery with the Go standard library only.
//
// Usage:
//
//	WEBHOOK_SECRET=whsec_... go run verify.go HEADERS_JSON BODY_FILE
//
// HEADERS_JSON is a JSON object of the request headers (any letter case); BODY_FILE holds the raw
// request body exactly as received. Prints "verified" and exits 0 when the delivery is authentic
// and fresh; exits 1 with the reason otherwise (2 on a usage error). Set VERIFY_NOW (unix seconds)
// to replay a saved delivery as if it were that time.
//
// In a web handler, verify the RAW body bytes, before any JSON decoding. net/http:
//
//	http.HandleFunc("/webhooks/agenta", func(w http.ResponseWriter, r *http.Request) {
//		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
//		if err != nil {
//			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
//			return
//		}
//		if err := Verify(os.Getenv("WEBHOOK_SECRET"), r.Header, body, time.Now()); err != nil {
//			http.Error(w, "invalid signature", http.StatusBadRequest) // never 410: that disables the webhook
//			return
//		}
//		if seenBefore(r.Header.Get("webhook-id")) { // retries repeat the same webhook-id
//			w.WriteHeader(http.StatusNoContent)
//			return
//		}
//		enqueue(body) // answer within 10 seconds; do slow work elsewhere
//		w.WriteHeader(http.StatusNoContent)
//	})
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

const tolerance = 5 * time.Minute

// Verify returns an error unless header carries a fresh v1 signature of body under secret.
func Verify(secret string, header http.Header, body []byte, now time.Time) error {
	msgID := header.Get("webhook-id")
	timestamp := header.Get("webhook-timestamp")
	signatures := header.Get("webhook-signature")
	if msgID == "" || timestamp == "" || signatures == "" {
		return errors.New("missing webhook-id, webhook-timestamp or webhook-signature header")
	}
	seconds, err := strconv.ParseUint(timestamp, 10, 63)
	if err != nil {
		return errors.New("webhook-timestamp is not unix seconds")
	}
	if age := now.Sub(time.Unix(int64(seconds), 0)); age > tolerance || age < -tolerance {
		return errors.New("webhook-timestamp is more than 5 minutes away from now")
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return errors.New("the secret is not whsec_ followed by base64")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(msgID + "." + timestamp + "."))
	mac.Write(body)
	expected := []byte(base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	// During a secret rotation the header holds several space-separated signatures.
	for _, candidate := range strings.Split(signatures, " ") {
		version, signature, found := strings.Cut(candidate, ",")
		// hmac.Equal takes as long whatever the bytes, so timing leaks nothing.
		if found && version == "v1" && hmac.Equal([]byte(signature), expected) {
			return nil
		}
	}
	return errors.New("no signature matches this body and secret")
}

func main() {
	os.Exit(run(os.Args[1:]))
}

// run verifies the delivery saved in args' files and returns the exit status.
func run(args []string) int {
	secret := os.Getenv("WEBHOOK_SECRET")
	if len(args) != 2 || secret == "" {
		fmt.Fprintln(os.Stderr, "usage: WEBHOOK_SECRET=whsec_... go run verify.go HEADERS_JSON BODY_FILE")
		return 2
	}
	header, err := readHeaders(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	body, err := os.ReadFile(args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	now := time.Now()
	if value := os.Getenv("VERIFY_NOW"); value != "" {
		seconds, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			fmt.Fprintln(os.Stderr, "VERIFY_NOW is not unix seconds")
			return 2
		}
		now = time.Unix(seconds, 0)
	}
	if err := Verify(secret, header, body, now); err != nil {
		fmt.Fprintln(os.Stderr, "not verified:", err)
		return 1
	}
	fmt.Println("verified")
	return 0
}

// readHeaders loads a JSON object of header names to values into an http.Header.
func readHeaders(path string) (http.Header, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var values map[string]string
	if err := json.Unmarshal(data, &values); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	header := http.Header{}
	for name, value := range values {
		header.Set(name, value)
	}
	return header, nil
}
