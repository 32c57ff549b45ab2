// Command verify checks an Agenta webhook's v1a (ed25519) signature with its public key only,
// with the Go standard library (crypto/ed25519).
//
// Usage:
//
//	WEBHOOK_PUBLIC_KEYS="whpk_... [whpk_...]" go run verify.go HEADERS_JSON BODY_FILE
//
// WEBHOOK_PUBLIC_KEYS lists the public keys you trust, space-separated: the `public_key` of each
// entry of GET /api/projects/{project_id}/webhooks/{webhook_id}/signing-keys (during a key
// rotation, keep the old one listed until you have the new one). HEADERS_JSON is a JSON object of
// the request headers (any letter case); BODY_FILE holds the raw request body exactly as received.
// Prints "verified" and exits 0 when the delivery is authentic and fresh; exits 1 with the reason
// otherwise (2 on a usage error). Set VERIFY_NOW (unix seconds) to replay a saved delivery.
package main

import (
	"crypto/ed25519"
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

// Verify returns an error unless header carries a fresh v1a signature of body by one of keys.
func Verify(keys []string, header http.Header, body []byte, now time.Time) error {
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
	var publicKeys []ed25519.PublicKey
	for _, encoded := range keys {
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(encoded, "whpk_"))
		if err != nil || len(raw) != ed25519.PublicKeySize {
			return fmt.Errorf("%q is not whpk_ followed by base64 of 32 bytes", encoded)
		}
		publicKeys = append(publicKeys, ed25519.PublicKey(raw))
	}
	signed := append([]byte(msgID+"."+timestamp+"."), body...)
	// During a key rotation the header holds a signature by each key, space-separated.
	for _, candidate := range strings.Split(signatures, " ") {
		version, encoded, found := strings.Cut(candidate, ",")
		if !found || version != "v1a" {
			continue // a v1 (HMAC) signature, for receivers that hold the secret
		}
		signature, err := base64.StdEncoding.DecodeString(encoded)
		if err != nil {
			continue
		}
		for _, key := range publicKeys {
			if ed25519.Verify(key, signed, signature) {
				return nil
			}
		}
	}
	return errors.New("no v1a signature matches this body and these public keys")
}

func main() {
	os.Exit(run(os.Args[1:]))
}

// run verifies the delivery saved in args' files and returns the exit status.
func run(args []string) int {
	keys := strings.Fields(os.Getenv("WEBHOOK_PUBLIC_KEYS"))
	if len(args) != 2 || len(keys) == 0 {
		fmt.Fprintln(os.Stderr, `usage: WEBHOOK_PUBLIC_KEYS="whpk_..." go run verify.go HEADERS_JSON BODY_FILE`)
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
	if err := Verify(keys, header, body, now); err != nil {
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
