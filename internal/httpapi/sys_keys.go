package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/coffer-dev/coffer/internal/core"
	"github.com/coffer-dev/coffer/internal/logical"
)

// decodeInto converts a decoded JSON body into a struct, turning type
// mismatches into a 400 naming the field.
func decodeInto(body map[string]interface{}, out interface{}) error {
	if body == nil {
		return nil
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return logical.InvalidRequest("failed to parse JSON input: %v", err)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		if te, ok := err.(*json.UnmarshalTypeError); ok {
			return logical.InvalidRequest("invalid type for field %q: got %s, expected %s", te.Field, te.Value, te.Type.String())
		}
		return logical.InvalidRequest("failed to parse JSON input: %v", err)
	}
	return nil
}

// decodeRequest reads a JSON body into out; on failure it answers the
// client and returns false.
func (h *handler) decodeRequest(w http.ResponseWriter, r *http.Request, out interface{}) bool {
	body, err := readBody(r, h.opts.MaxRequestSize)
	if err == nil {
		err = decodeInto(body, out)
	}
	if err != nil {
		respondError(w, err)
		return false
	}
	return true
}

func rootGenBody(st *core.RootGenStatus) map[string]interface{} {
	out := map[string]interface{}{
		"started": st.Started, "nonce": st.Nonce, "progress": st.Progress, "required": st.Required,
		"complete": st.Complete, "encoded_token": st.EncodedToken, "encoded_root_token": st.EncodedToken,
		"pgp_fingerprint": "", "otp_length": st.OTPLength, "otp": st.OTP,
	}
	return out
}

func (h *handler) handleRootGenAttempt(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	switch r.Method {
	case http.MethodGet:
		st, err := h.core.RootGenerationStatus(ctx)
		if err != nil {
			respondError(w, err)
			return
		}
		respondJSON(w, http.StatusOK, rootGenBody(st))
	case http.MethodPut, http.MethodPost:
		var req struct {
			OTP    string `json:"otp"`
			PGPKey string `json:"pgp_key"`
		}
		if !h.decodeRequest(w, r, &req) {
			return
		}
		st, err := h.core.RootGenerationInit(ctx, req.OTP, req.PGPKey)
		if err != nil {
			respondError(w, err)
			return
		}
		respondJSON(w, http.StatusOK, rootGenBody(st))
	case http.MethodDelete:
		h.core.RootGenerationCancel()
		w.WriteHeader(http.StatusNoContent)
	default:
		methodNotAllowed(w, r)
	}
}

type keyNonce struct {
	Key   string `json:"key"`
	Nonce string `json:"nonce"`
}

func (h *handler) readKeyNonce(w http.ResponseWriter, r *http.Request) ([]byte, string, bool) {
	if methodNotAllowed(w, r, http.MethodPut, http.MethodPost) {
		return nil, "", false
	}
	var req keyNonce
	if !h.decodeRequest(w, r, &req) {
		return nil, "", false
	}
	if req.Key == "" {
		respondErrorStatus(w, http.StatusBadRequest, "missing required parameter 'key'")
		return nil, "", false
	}
	if req.Nonce == "" {
		respondErrorStatus(w, http.StatusBadRequest, "missing required parameter 'nonce'")
		return nil, "", false
	}
	key, err := decodeKey(req.Key)
	if err != nil {
		respondError(w, err)
		return nil, "", false
	}
	return key, req.Nonce, true
}

func (h *handler) handleRootGenUpdate(w http.ResponseWriter, r *http.Request) {
	key, nonce, ok := h.readKeyNonce(w, r)
	if !ok {
		return
	}
	st, err := h.core.RootGenerationUpdate(r.Context(), key, nonce)
	if err != nil {
		respondError(w, err)
		return
	}
	respondJSON(w, http.StatusOK, rootGenBody(st))
}

func rekeyBody(st *core.RekeyStatus) map[string]interface{} {
	out := map[string]interface{}{
		"started": st.Started, "nonce": st.Nonce, "t": st.T, "n": st.N, "progress": st.Progress,
		"required": st.Required, "pgp_fingerprints": nil, "backup": false,
		"verification_required": false, "complete": st.Complete,
	}
	if st.Complete {
		out["keys"], out["keys_base64"] = encodeKeys(st.Keys)
	}
	return out
}

func (h *handler) handleRekeyInit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	switch r.Method {
	case http.MethodGet:
		st, err := h.core.RekeyStatusNow(ctx)
		if err != nil {
			respondError(w, err)
			return
		}
		respondJSON(w, http.StatusOK, rekeyBody(st))
	case http.MethodPut, http.MethodPost:
		var req struct {
			SecretShares        int      `json:"secret_shares"`
			SecretThreshold     int      `json:"secret_threshold"`
			PGPKeys             []string `json:"pgp_keys"`
			Backup              bool     `json:"backup"`
			RequireVerification bool     `json:"require_verification"`
		}
		if !h.decodeRequest(w, r, &req) {
			return
		}
		if req.RequireVerification {
			respondErrorStatus(w, http.StatusBadRequest, "require_verification is not supported by this server; rekey without it")
			return
		}
		st, err := h.core.RekeyInit(ctx, req.SecretShares, req.SecretThreshold, req.PGPKeys, req.Backup)
		if err != nil {
			respondError(w, err)
			return
		}
		respondJSON(w, http.StatusOK, rekeyBody(st))
	case http.MethodDelete:
		h.core.RekeyCancel()
		w.WriteHeader(http.StatusNoContent)
	default:
		methodNotAllowed(w, r)
	}
}

func (h *handler) handleRekeyUpdate(w http.ResponseWriter, r *http.Request) {
	key, nonce, ok := h.readKeyNonce(w, r)
	if !ok {
		return
	}
	st, err := h.core.RekeyUpdate(r.Context(), key, nonce)
	if err != nil {
		respondError(w, err)
		return
	}
	respondJSON(w, http.StatusOK, rekeyBody(st))
}
