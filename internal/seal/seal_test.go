package seal

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"

	"github.com/coffer-dev/coffer/internal/logical"
)

func TestConfigValidate(t *testing.T) {
	pgp := base64.StdEncoding.EncodeToString([]byte("not really a key"))
	tests := []struct {
		name string
		cfg  Config
		want string // "" means valid
	}{
		{"5 of 3", Config{Type: TypeShamir, SecretShares: 5, SecretThreshold: 3}, ""},
		{"1 of 1", Config{Type: TypeShamir, SecretShares: 1, SecretThreshold: 1}, ""},
		{"empty type is shamir", Config{SecretShares: 3, SecretThreshold: 2}, ""},
		{"255 of 255", Config{Type: TypeShamir, SecretShares: 255, SecretThreshold: 255}, ""},
		{"zero shares", Config{Type: TypeShamir, SecretShares: 0, SecretThreshold: 0},
			"invalid seal configuration: shares must be at least one"},
		{"zero threshold", Config{Type: TypeShamir, SecretShares: 3, SecretThreshold: 0},
			"invalid seal configuration: threshold must be at least one"},
		{"threshold one of many", Config{Type: TypeShamir, SecretShares: 2, SecretThreshold: 1},
			"invalid seal configuration: threshold must be greater than one for multiple shares"},
		{"too many shares", Config{Type: TypeShamir, SecretShares: 256, SecretThreshold: 3},
			"invalid seal configuration: shares must be less than 256"},
		{"threshold too large", Config{Type: TypeShamir, SecretShares: 256, SecretThreshold: 256},
			"invalid seal configuration: shares must be less than 256"},
		{"threshold above shares", Config{Type: TypeShamir, SecretShares: 3, SecretThreshold: 4},
			"invalid seal configuration: threshold cannot be larger than shares"},
		{"stored shares", Config{Type: TypeShamir, SecretShares: 3, SecretThreshold: 2, StoredShares: 2},
			"invalid seal configuration: stored keys cannot be larger than 1"},
		{"pgp count", Config{Type: TypeShamir, SecretShares: 3, SecretThreshold: 2, PGPKeys: []string{pgp}},
			"invalid seal configuration: count mismatch between number of provided PGP keys and number of shares"},
		{"pgp ok", Config{Type: TypeShamir, SecretShares: 1, SecretThreshold: 1, PGPKeys: []string{pgp}}, ""},
		{"unknown type", Config{Type: "hsm", SecretShares: 1, SecretThreshold: 1},
			`invalid seal configuration: unknown seal type "hsm"`},
		{"recovery on shamir", Config{Type: TypeShamir, SecretShares: 1, SecretThreshold: 1, RecoveryShares: 5, RecoveryThreshold: 3},
			"parameters recovery_shares,recovery_threshold not applicable to seal type shamir"},
		{"awskms with recovery", Config{Type: TypeAWSKMS, SecretShares: 1, SecretThreshold: 1, StoredShares: 1,
			RecoveryShares: 5, RecoveryThreshold: 3}, ""},
		{"transit without recovery", Config{Type: TypeTransit, SecretShares: 1, SecretThreshold: 1, StoredShares: 1}, ""},
		{"bad recovery", Config{Type: TypeTransit, SecretShares: 1, SecretThreshold: 1, StoredShares: 1,
			RecoveryShares: 3, RecoveryThreshold: 1},
			"invalid recovery configuration: threshold must be greater than one for multiple shares"},
		{"recovery threshold above shares", Config{Type: TypeAWSKMS, SecretShares: 1, SecretThreshold: 1,
			RecoveryShares: 2, RecoveryThreshold: 3},
			"invalid recovery configuration: threshold cannot be larger than shares"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tt.want)
			}
			if err.Error() != tt.want {
				t.Fatalf("Validate() = %q, want %q", err.Error(), tt.want)
			}
			if !errors.Is(err, logical.ErrInvalidRequest) {
				t.Fatalf("Validate() error does not wrap ErrInvalidRequest")
			}
		})
	}
}

func TestConfigValidateBadPGPEncoding(t *testing.T) {
	cfg := Config{Type: TypeShamir, SecretShares: 1, SecretThreshold: 1, PGPKeys: []string{"%%%"}}
	if err := cfg.Validate(); err == nil || !errors.Is(err, logical.ErrInvalidRequest) {
		t.Fatalf("Validate() = %v, want an invalid request error", err)
	}
}

func TestConfigJSONFieldNames(t *testing.T) {
	cfg := Config{Type: TypeShamir, SecretShares: 5, SecretThreshold: 3}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"shamir","secret_shares":5,"secret_threshold":3,"stored_shares":0}`
	if string(b) != want {
		t.Fatalf("JSON = %s, want %s", b, want)
	}
	var back Config
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Type != cfg.Type || back.SecretShares != 5 || back.SecretThreshold != 3 {
		t.Fatalf("round trip = %+v", back)
	}
}
