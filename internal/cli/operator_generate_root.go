package cli

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"

	"github.com/hashicorp/vault/api"
)

type operatorGenerateRootCommand struct {
	*meta
	flagInit        bool
	flagCancel      bool
	flagStatus      bool
	flagDecode      string
	flagOTP         string
	flagNonce       string
	flagGenerateOTP bool
}

func (c *operatorGenerateRootCommand) Synopsis() string { return "Generates a new root token" }

func (c *operatorGenerateRootCommand) Help() string {
	return usage(c.prog, `operator generate-root [options] [KEY]

  Generates a new root token by combining a quorum of share holders. A
  one-time-password (OTP) must be provided to start the root token
  generation via the "-otp" flag; use the "-generate-otp" flag to generate a
  usable value. The resulting token is XORed with this value when it is
  returned. Use the "-decode" flag to output the final value.

  An unseal key may be provided directly on the command line as an argument to
  the command. If key is specified as "-", the command will read from stdin. If
  a TTY is available, the command will prompt for text.

  Generate an OTP code for the final token:

      $ `+c.prog+` operator generate-root -generate-otp

  Start a root token generation:

      $ `+c.prog+` operator generate-root -init -otp="..."

  Enter an unseal key to progress root token generation:

      $ `+c.prog+` operator generate-root -nonce="..." KEY

  Decode the encoded token:

      $ `+c.prog+` operator generate-root -decode="..." -otp="..."`, c.flags())
}

func (c *operatorGenerateRootCommand) flags() *flagSet {
	s := c.flagSet("operator generate-root")
	s.boolVar(&c.flagInit, "init", false,
		"Start a root token generation. This can only be done if there is not currently one in progress.")
	s.boolVar(&c.flagCancel, "cancel", false,
		"Reset the root token generation progress. This will discard any submitted unseal keys or configuration.")
	s.boolVar(&c.flagStatus, "status", false,
		"Print the status of the current attempt without providing an unseal key.")
	s.stringVar(&c.flagDecode, "decode", "",
		"The value to decode; setting this triggers a decode operation. If the "+
			"value is \"-\" then read the encoded token from stdin.")
	s.boolVar(&c.flagGenerateOTP, "generate-otp", false,
		"Generate and print a high-entropy one-time-password (OTP) suitable for use with the \"-init\" flag.")
	s.stringVar(&c.flagOTP, "otp", "", "OTP code to use with \"-decode\" or \"-init\".")
	s.stringVar(&c.flagNonce, "nonce", "",
		"Nonce value provided at initialization. The same nonce value must be provided with each unseal key.")
	return s
}

func (c *operatorGenerateRootCommand) Run(args []string) int {
	f := c.flags()
	if code := c.parseFlags(f, args, false); code != 0 {
		return code
	}
	args = f.args()
	if len(args) > 1 {
		c.errorf("Too many arguments (expected 0-1, got %d)", len(args))
		return 1
	}
	client, err := c.apiClient()
	if err != nil {
		return c.clientError(err)
	}
	switch {
	case c.flagGenerateOTP:
		return c.generateOTP(client)
	case c.flagDecode != "":
		return c.decode(client)
	case c.flagCancel:
		if err := client.Sys().GenerateRootCancel(); err != nil {
			return c.apiError(err, "Error canceling root token generation")
		}
		c.output("Success! Root token generation canceled (if it was started)")
		return 0
	case c.flagInit:
		status, err := client.Sys().GenerateRootInit(c.flagOTP, "")
		if err != nil {
			return c.apiError(err, "Error initializing root generation")
		}
		return c.printStatus(status)
	case c.flagStatus:
		status, err := client.Sys().GenerateRootStatus()
		if err != nil {
			return c.apiError(err, "Error getting root generation status")
		}
		return c.printStatus(status)
	}
	key := ""
	if len(args) == 1 {
		key = strings.TrimSpace(args[0])
	}
	return c.provide(client, key)
}

func (c *operatorGenerateRootCommand) generateOTP(client *api.Client) int {
	status, err := client.Sys().GenerateRootStatus()
	if err != nil {
		return c.apiError(err, "Error getting root generation status")
	}
	otp, err := generateOTP(status.OTPLength)
	if err != nil {
		c.errorf("%s", err)
		return 2
	}
	if c.format() == "table" {
		return c.printRaw(otp)
	}
	return c.outputData(map[string]interface{}{"otp": otp, "otp_length": len(otp)})
}

func (c *operatorGenerateRootCommand) decode(client *api.Client) int {
	if c.flagOTP == "" {
		c.errorf("Missing otp: use -otp to supply it")
		return 1
	}
	encoded := c.flagDecode
	if encoded == "-" {
		b, err := io.ReadAll(c.stdin)
		if err != nil {
			c.errorf("Failed to read from stdin: %s", err)
			return 1
		}
		encoded = strings.TrimSpace(string(b))
		if encoded == "" {
			c.errorf("Missing encoded value. When using -decode=\"-\" value must be passed via stdin.")
			return 1
		}
	}
	status, err := client.Sys().GenerateRootStatus()
	if err != nil {
		return c.apiError(err, "Error getting root generation status")
	}
	token, err := decodeRootToken(encoded, c.flagOTP, status.OTPLength)
	if err != nil {
		c.errorf("Error decoding root token: %s", err)
		return 1
	}
	if c.format() == "table" {
		return c.printRaw(token)
	}
	return c.outputData(map[string]interface{}{"token": token})
}

func (c *operatorGenerateRootCommand) provide(client *api.Client, key string) int {
	status, err := client.Sys().GenerateRootStatus()
	if err != nil {
		return c.apiError(err, "Error getting root generation status")
	}
	if !status.Started {
		c.errorf("%s", wrapAtLength("No root generation is in progress. Start a root "+
			"generation by running \"vault operator generate-root -init\"."))
		c.warn(wrapAtLength(fmt.Sprintf("If starting root generation using the OTP "+
			"method and generating your own OTP, the length of the OTP string needs "+
			"to be %d characters in length.", status.OTPLength)))
		return 1
	}
	key, nonce, code := c.keyShare(key, c.flagNonce, status.Nonce, "Operation nonce")
	if code != 0 {
		return code
	}
	status, err = client.Sys().GenerateRootUpdate(key, nonce)
	if err != nil {
		return c.apiError(err, "Error posting unseal key")
	}
	return c.printStatus(status)
}

func (c *operatorGenerateRootCommand) printStatus(status *api.GenerateRootStatusResponse) int {
	if c.format() != "table" {
		return c.outputData(status)
	}
	out := []string{
		fmt.Sprintf("Nonce | %s", status.Nonce),
		fmt.Sprintf("Started | %t", status.Started),
		fmt.Sprintf("Progress | %d/%d", status.Progress, status.Required),
		fmt.Sprintf("Complete | %t", status.Complete),
	}
	if status.PGPFingerprint != "" {
		out = append(out, fmt.Sprintf("PGP Fingerprint | %s", status.PGPFingerprint))
	}
	switch {
	case status.EncodedToken != "":
		out = append(out, fmt.Sprintf("Encoded Token | %s", status.EncodedToken))
	case status.EncodedRootToken != "":
		out = append(out, fmt.Sprintf("Encoded Root Token | %s", status.EncodedRootToken))
	}
	if status.OTP != "" {
		c.warn(wrapAtLength("A One-Time-Password has been generated for you and is " +
			"shown in the OTP field. You will need this value to decode the " +
			"resulting root token, so keep it safe."))
		out = append(out, fmt.Sprintf("OTP | %s", status.OTP))
	}
	if status.OTPLength != 0 {
		out = append(out, fmt.Sprintf("OTP Length | %d", status.OTPLength))
	}
	c.output(columnOutput(out))
	return 0
}

const base62Chars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// generateOTP returns a one-time password for root token generation: length
// random base62 characters, or 16 random bytes in base64 when the server
// reports no length (servers before token prefixes).
func generateOTP(length int) (string, error) {
	if length == 0 {
		buf := make([]byte, 16)
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("error reading random bytes: %w", err)
		}
		return base64.StdEncoding.EncodeToString(buf), nil
	}
	out := make([]byte, length)
	limit := big.NewInt(int64(len(base62Chars)))
	for i := range out {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return "", fmt.Errorf("error reading random bytes: %w", err)
		}
		out[i] = base62Chars[n.Int64()]
	}
	return string(out), nil
}

// decodeRootToken recovers the root token from the encoded value returned
// when generation completes: base64 of the token XORed with the OTP.
func decodeRootToken(encoded, otp string, otpLength int) (string, error) {
	if otpLength == 0 {
		tok, err := base64.StdEncoding.DecodeString(encoded)
		if err != nil {
			return "", fmt.Errorf("error decoding base64'd token: %w", err)
		}
		key, err := base64.StdEncoding.DecodeString(otp)
		if err != nil {
			return "", fmt.Errorf("error decoding base64'd OTP: %w", err)
		}
		b, err := xorBytes(tok, key)
		if err != nil {
			return "", err
		}
		if len(b) != 16 {
			return "", fmt.Errorf("decoded token is %d bytes, not a UUID", len(b))
		}
		return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
	}
	tok, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(encoded, "="))
	if err != nil {
		return "", fmt.Errorf("error decoding base64'd token: %w", err)
	}
	b, err := xorBytes(tok, []byte(otp))
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func xorBytes(a, b []byte) ([]byte, error) {
	if len(a) != len(b) {
		return nil, errors.New("error xoring token: length of byte slices is not equivalent")
	}
	out := make([]byte, len(a))
	for i := range a {
		out[i] = a[i] ^ b[i]
	}
	return out, nil
}
