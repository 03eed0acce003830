package awstest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// kmsKey is a symmetric KMS key backed by AES-256-GCM.
type kmsKey struct {
	ID      string
	Key     []byte
	Enabled bool
	Created time.Time
}

// ciphertextVersion starts every ciphertext blob this server issues.
const ciphertextVersion = 0x01

// kmsErrorCodes maps the shared authentication codes to KMS's names.
var kmsErrorCodes = map[string]string{
	"MissingAuthenticationToken": "MissingAuthenticationTokenException",
	"IncompleteSignature":        "IncompleteSignatureException",
	"InvalidClientTokenId":       "UnrecognizedClientException",
	"SignatureDoesNotMatch":      "InvalidSignatureException",
	"ExpiredToken":               "ExpiredTokenException",
	"ServiceUnavailable":         "ServiceUnavailableException",
}

var kmsErrorStatus = map[string]int{
	"KMSInternalException":        500,
	"DependencyTimeoutException":  503,
	"ServiceUnavailableException": 503,
}

// CreateKey adds an enabled symmetric key and returns its ID. A non-empty
// alias ("alias/name") also names it.
func (s *Server) CreateKey(alias string) string {
	k := &kmsKey{ID: newUUID(), Key: make([]byte, 32), Enabled: true, Created: s.now().UTC().Truncate(time.Second)}
	if _, err := rand.Read(k.Key); err != nil {
		panic(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kmsKeys[k.ID] = k
	if alias != "" {
		s.aliases[alias] = k.ID
	}
	return k.ID
}

// SetKeyEnabled enables or disables a KMS key; a disabled key refuses
// Encrypt and Decrypt with DisabledException.
func (s *Server) SetKeyEnabled(keyID string, enabled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := s.kmsKeys[keyID]; k != nil {
		k.Enabled = enabled
	}
}

func newUUID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

type kmsRequest struct {
	KeyID               string            `json:"KeyId"`
	Plaintext           []byte            `json:"Plaintext"`
	CiphertextBlob      []byte            `json:"CiphertextBlob"`
	EncryptionContext   map[string]string `json:"EncryptionContext"`
	EncryptionAlgorithm string            `json:"EncryptionAlgorithm"`
}

// serveKMS handles the KMS JSON 1.1 protocol: POST with X-Amz-Target
// "TrentService.<Action>".
func (s *Server) serveKMS(w http.ResponseWriter, r *http.Request, body []byte, target string) {
	action, ok := strings.CutPrefix(target, "TrentService.")
	if !ok {
		s.writeKMSError(w, &apiError{Code: "UnknownOperationException", Message: "unknown target " + target})
		return
	}
	if s.begin(action) {
		s.writeKMSError(w, &apiError{Code: "ServiceUnavailableException", Message: "Service is unavailable. Please try again later."})
		return
	}
	sig, _ := parseAuthorization(r, s.now())
	if _, aerr := s.authenticate(r, body, "kms"); aerr != nil {
		if c, ok := kmsErrorCodes[aerr.Code]; ok {
			aerr = &apiError{Code: c, Message: aerr.Message}
		}
		s.writeKMSError(w, aerr)
		return
	}
	if code := s.injected(action); code != "" {
		s.writeKMSError(w, &apiError{Code: code, Message: "injected failure of " + action})
		return
	}
	var req kmsRequest
	if err := json.Unmarshal(body, &req); err != nil {
		s.writeKMSError(w, &apiError{Code: "SerializationException", Message: err.Error()})
		return
	}
	region := sig.Region
	var (
		out  any
		aerr *apiError
	)
	switch action {
	case "Encrypt":
		out, aerr = s.kmsEncrypt(region, &req)
	case "Decrypt":
		out, aerr = s.kmsDecrypt(region, &req)
	case "DescribeKey":
		out, aerr = s.kmsDescribe(region, &req)
	default:
		aerr = &apiError{Code: "UnknownOperationException", Message: "unsupported operation " + action}
	}
	if aerr != nil {
		s.writeKMSError(w, aerr)
		return
	}
	b, _ := json.Marshal(out)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", s.requestID())
	_, _ = w.Write(b)
}

func (s *Server) writeKMSError(w http.ResponseWriter, e *apiError) {
	st, ok := kmsErrorStatus[e.Code]
	if !ok {
		st = http.StatusBadRequest
	}
	b, _ := json.Marshal(map[string]string{"__type": e.Code, "message": e.Message})
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", s.requestID())
	w.WriteHeader(st)
	_, _ = w.Write(b)
}

func (s *Server) keyARN(region, id string) string {
	return "arn:aws:kms:" + region + ":" + s.AccountID + ":key/" + id
}

// resolveKey finds a key by ID, key ARN, alias name or alias ARN.
func (s *Server) resolveKey(id string) (*kmsKey, *apiError) {
	if id == "" {
		return nil, &apiError{Code: "ValidationException", Message: "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	name := id
	if strings.HasPrefix(id, "arn:") {
		if i := strings.LastIndex(id, ":"); i >= 0 {
			name = id[i+1:]
		}
	}
	if strings.HasPrefix(name, "alias/") {
		kid, ok := s.aliases[name]
		if !ok {
			return nil, &apiError{Code: "NotFoundException", Message: fmt.Sprintf("Alias %s is not found.", id)}
		}
		name = kid
	}
	name = strings.TrimPrefix(name, "key/")
	k := s.kmsKeys[name]
	if k == nil {
		return nil, &apiError{Code: "NotFoundException", Message: fmt.Sprintf("Key '%s' does not exist", id)}
	}
	kc := *k
	return &kc, nil
}

func encryptionAAD(ctx map[string]string) []byte {
	if len(ctx) == 0 {
		return nil
	}
	b, _ := json.Marshal(ctx) // map keys are sorted
	return b
}

func keyAEAD(k *kmsKey) cipher.AEAD {
	block, err := aes.NewCipher(k.Key)
	if err != nil {
		panic(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return gcm
}

func checkAlgorithm(alg string) *apiError {
	if alg != "" && alg != "SYMMETRIC_DEFAULT" {
		return &apiError{Code: "InvalidKeyUsageException", Message: fmt.Sprintf("Encryption algorithm %s is not supported by a symmetric key", alg)}
	}
	return nil
}

func (s *Server) kmsEncrypt(region string, req *kmsRequest) (any, *apiError) {
	k, e := s.resolveKey(req.KeyID)
	if e != nil {
		return nil, e
	}
	if len(req.Plaintext) == 0 || len(req.Plaintext) > 4096 {
		return nil, &apiError{Code: "ValidationException", Message: "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length between 1 and 4096"}
	}
	if e := checkAlgorithm(req.EncryptionAlgorithm); e != nil {
		return nil, e
	}
	if !k.Enabled {
		return nil, &apiError{Code: "DisabledException", Message: s.keyARN(region, k.ID) + " is disabled."}
	}
	gcm := keyAEAD(k)
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	blob := append([]byte{ciphertextVersion}, k.ID...)
	blob = append(blob, nonce...)
	blob = gcm.Seal(blob, nonce, req.Plaintext, encryptionAAD(req.EncryptionContext))
	return map[string]any{"CiphertextBlob": blob, "KeyId": s.keyARN(region, k.ID), "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}, nil
}

func (s *Server) kmsDecrypt(region string, req *kmsRequest) (any, *apiError) {
	invalid := &apiError{Code: "InvalidCiphertextException", Message: ""}
	const idLen = 36
	b := req.CiphertextBlob
	if len(b) < 1+idLen+12+16 || b[0] != ciphertextVersion {
		return nil, invalid
	}
	if e := checkAlgorithm(req.EncryptionAlgorithm); e != nil {
		return nil, e
	}
	k, e := s.resolveKey(string(b[1 : 1+idLen]))
	if e != nil {
		return nil, invalid
	}
	if req.KeyID != "" {
		want, e := s.resolveKey(req.KeyID)
		if e != nil {
			return nil, e
		}
		if want.ID != k.ID {
			return nil, &apiError{Code: "IncorrectKeyException", Message: "The key ID in the request does not identify a CMK that can perform this operation."}
		}
	}
	if !k.Enabled {
		return nil, &apiError{Code: "DisabledException", Message: s.keyARN(region, k.ID) + " is disabled."}
	}
	gcm := keyAEAD(k)
	rest := b[1+idLen:]
	nonce, sealed := rest[:gcm.NonceSize()], rest[gcm.NonceSize():]
	pt, err := gcm.Open(nil, nonce, sealed, encryptionAAD(req.EncryptionContext))
	if err != nil {
		return nil, invalid
	}
	return map[string]any{"Plaintext": pt, "KeyId": s.keyARN(region, k.ID), "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}, nil
}

func (s *Server) kmsDescribe(region string, req *kmsRequest) (any, *apiError) {
	k, e := s.resolveKey(req.KeyID)
	if e != nil {
		return nil, e
	}
	state := "Enabled"
	if !k.Enabled {
		state = "Disabled"
	}
	return map[string]any{"KeyMetadata": map[string]any{
		"AWSAccountId": s.AccountID, "KeyId": k.ID, "Arn": s.keyARN(region, k.ID),
		"CreationDate": float64(k.Created.Unix()), "Enabled": k.Enabled, "Description": "",
		"KeyUsage": "ENCRYPT_DECRYPT", "KeyState": state, "Origin": "AWS_KMS", "KeyManager": "CUSTOMER",
		"CustomerMasterKeySpec": "SYMMETRIC_DEFAULT", "KeySpec": "SYMMETRIC_DEFAULT",
		"EncryptionAlgorithms": []string{"SYMMETRIC_DEFAULT"}, "MultiRegion": false,
	}}, nil
}
