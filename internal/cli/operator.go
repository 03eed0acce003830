package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"
)

type operatorInitCommand struct {
	*meta
	flagStatus            bool
	flagKeyShares         int
	flagKeyThreshold      int
	flagRecoveryShares    int
	flagRecoveryThreshold int
}

func (c *operatorInitCommand) Synopsis() string { return "Initializes a server" }

func (c *operatorInitCommand) Help() string {
	return usage(c.prog, `operator init [options]

  Initializes a server. Initialization is the process by which the storage
  backend is prepared to receive data. The server generates an in-memory root
  key and applies Shamir's secret sharing algorithm to disassemble that root
  key into a configurable number of key shares such that a configurable subset
  of those key shares must come together to regenerate the root key. These
  keys are often called "unseal keys".

  This command cannot be run against an already-initialized server.

  Start initialization with the default options:

      $ `+c.prog+` operator init

  Initialize with 3 key shares, 2 of which are needed to unseal:

      $ `+c.prog+` operator init -key-shares=3 -key-threshold=2`, c.flags())
}

func (c *operatorInitCommand) flags() *flagSet {
	s := c.flagSet("operator init")
	s.section("Common Options")
	s.boolVar(&c.flagStatus, "status", false,
		"Print the current initialization status. An exit code of 0 means the "+
			"server is already initialized. An exit code of 1 means an error "+
			"occurred. An exit code of 2 means the server is not initialized.")
	s.intVar(&c.flagKeyShares, "key-shares", 0,
		"Number of key shares to split the generated root key into. This is the "+
			"number of \"unseal keys\" to generate.", "n")
	s.intVar(&c.flagKeyThreshold, "key-threshold", 0,
		"Number of key shares required to reconstruct the root key. This must be "+
			"less than or equal to -key-shares.", "t")
	s.section("Auto Unseal Options")
	s.intVar(&c.flagRecoveryShares, "recovery-shares", 0,
		"Number of key shares to split the recovery key into. This is only used "+
			"in auto-unseal mode.")
	s.intVar(&c.flagRecoveryThreshold, "recovery-threshold", 0,
		"Number of key shares required to reconstruct the recovery key. This is "+
			"only used in auto-unseal mode.")
	return s
}

// machineInit is the JSON/YAML form of the init output.
type machineInit struct {
	UnsealKeysB64     []string `json:"unseal_keys_b64"`
	UnsealKeysHex     []string `json:"unseal_keys_hex"`
	UnsealShares      int      `json:"unseal_shares"`
	UnsealThreshold   int      `json:"unseal_threshold"`
	RecoveryKeysB64   []string `json:"recovery_keys_b64"`
	RecoveryKeysHex   []string `json:"recovery_keys_hex"`
	RecoveryShares    int      `json:"recovery_keys_shares"`
	RecoveryThreshold int      `json:"recovery_keys_threshold"`
	RootToken         string   `json:"root_token"`
}

func (c *operatorInitCommand) Run(args []string) int {
	f := c.flags()
	_, client, code := c.begin(f, args, false, 0, 0)
	if code != 0 {
		return code
	}
	if c.flagStatus {
		return c.status(client)
	}
	// Defaults depend on whether the seal uses recovery keys.
	curl := client.OutputCurlString()
	client.SetOutputCurlString(false)
	seal, err := client.Sys().SealStatus()
	client.SetOutputCurlString(curl)
	if err != nil {
		c.errorf("%s", err)
		return 2
	}
	if seal.RecoverySeal {
		c.flagRecoveryShares = defaultIfZero(c.flagRecoveryShares, 5)
		c.flagRecoveryThreshold = defaultIfZero(c.flagRecoveryThreshold, 3)
	} else {
		c.flagKeyShares = defaultIfZero(c.flagKeyShares, 5)
		c.flagKeyThreshold = defaultIfZero(c.flagKeyThreshold, 3)
	}
	req := &api.InitRequest{
		SecretShares:      c.flagKeyShares,
		SecretThreshold:   c.flagKeyThreshold,
		RecoveryShares:    c.flagRecoveryShares,
		RecoveryThreshold: c.flagRecoveryThreshold,
	}
	resp, err := client.Sys().Init(req)
	if err != nil {
		return c.apiError(err, "Error initializing")
	}
	if c.format() != "table" {
		out := machineInit{
			UnsealKeysB64:     nonNil(resp.KeysB64),
			UnsealKeysHex:     nonNil(resp.Keys),
			UnsealShares:      req.SecretShares,
			UnsealThreshold:   req.SecretThreshold,
			RecoveryKeysB64:   nonNil(resp.RecoveryKeysB64),
			RecoveryKeysHex:   nonNil(resp.RecoveryKeys),
			RecoveryShares:    req.RecoveryShares,
			RecoveryThreshold: req.RecoveryThreshold,
			RootToken:         resp.RootToken,
		}
		if len(resp.Keys) == 0 {
			out.UnsealShares, out.UnsealThreshold = 1, 1
		}
		return c.outputData(out)
	}
	c.printInit(req, resp)
	return 0
}

func (c *operatorInitCommand) printInit(req *api.InitRequest, resp *api.InitResponse) {
	for i, key := range resp.Keys {
		if len(resp.KeysB64) == len(resp.Keys) {
			key = resp.KeysB64[i]
		}
		c.output(fmt.Sprintf("Unseal Key %d: %s", i+1, key))
	}
	for i, key := range resp.RecoveryKeys {
		if len(resp.RecoveryKeysB64) == len(resp.RecoveryKeys) {
			key = resp.RecoveryKeysB64[i]
		}
		c.output(fmt.Sprintf("Recovery Key %d: %s", i+1, key))
	}
	c.output("")
	c.output("Initial Root Token: " + resp.RootToken)
	if len(resp.Keys) > 0 {
		c.output("")
		c.output(wrapAtLength(fmt.Sprintf("Vault initialized with %d key shares and a key "+
			"threshold of %d. Please securely distribute the key shares printed "+
			"above. When the Vault is re-sealed, restarted, or stopped, you must "+
			"supply at least %d of these keys to unseal it before it can start "+
			"servicing requests.", req.SecretShares, req.SecretThreshold, req.SecretThreshold)))
		c.output("")
		c.output(wrapAtLength(fmt.Sprintf("Vault does not store the generated root key. "+
			"Without at least %d keys to reconstruct the root key, Vault will "+
			"remain permanently sealed!", req.SecretThreshold)))
		c.output("")
		c.output(wrapAtLength("It is possible to generate new unseal keys, provided you " +
			"have a quorum of existing unseal keys shares. See \"vault operator " +
			"rekey\" for more information."))
	} else {
		c.output("")
		c.output("Success! Vault is initialized")
	}
	if len(resp.RecoveryKeys) > 0 {
		c.output("")
		c.output(wrapAtLength(fmt.Sprintf("Recovery key initialized with %d key shares "+
			"and a key threshold of %d. Please securely distribute the key shares "+
			"printed above.", req.RecoveryShares, req.RecoveryThreshold)))
	}
}

func (c *operatorInitCommand) status(client *api.Client) int {
	inited, err := client.Sys().InitStatus()
	if err != nil {
		if code, ok := c.curlString(err); ok {
			return code
		}
		c.errorf("Error checking init status: %s", err)
		return 1 // 2 means "not initialized" here
	}
	if c.format() == "table" {
		if inited {
			c.output("Vault is initialized")
		} else {
			c.output("Vault is not initialized")
		}
	} else {
		c.outputData(api.InitStatusResponse{Initialized: inited})
	}
	if !inited {
		return 2
	}
	return 0
}

func defaultIfZero(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

type operatorUnsealCommand struct {
	*meta
	flagReset   bool
	flagMigrate bool
}

func (c *operatorUnsealCommand) Synopsis() string { return "Unseals the server" }

func (c *operatorUnsealCommand) Help() string {
	return usage(c.prog, `operator unseal [options] [KEY]

  Provide a portion of the root key to unseal a server. The server starts in a
  sealed state. It cannot perform operations until it is unsealed. This command
  accepts a portion of the root key (an "unseal key").

  The unseal key can be supplied as an argument to the command, but this is
  not recommended as the unseal key will be available in your history:

      $ `+c.prog+` operator unseal IXyR0OJnSFobekZMMCKCoVEpT7wI6l+USMzE3IcyDyo=

  Instead, run the command with no arguments and it will prompt for the key:

      $ `+c.prog+` operator unseal
      Key (will be hidden): IXyR0OJnSFobekZMMCKCoVEpT7wI6l+USMzE3IcyDyo=`, c.flags())
}

func (c *operatorUnsealCommand) flags() *flagSet {
	s := c.flagSet("operator unseal")
	s.boolVar(&c.flagReset, "reset", false, "Discard any previously entered keys to the unseal process.")
	s.boolVar(&c.flagMigrate, "migrate", false,
		"Indicate that this share is provided with the intent that it is part of a seal migration process.")
	return s
}

func (c *operatorUnsealCommand) Run(args []string) int {
	f := c.flags()
	if code := c.parseFlags(f, args, false); code != 0 {
		return code
	}
	args = f.args()
	if len(args) > 1 {
		c.errorf("Too many arguments (expected 1, got %d)", len(args))
		return 1
	}
	client, err := c.apiClient()
	if err != nil {
		return c.clientError(err)
	}
	if c.flagReset {
		status, err := client.Sys().ResetUnsealProcess()
		if err != nil {
			return c.apiError(err, "Error resetting unseal process")
		}
		return c.outputSealStatus(client, status)
	}
	key := ""
	if len(args) == 1 {
		key = strings.TrimSpace(args[0])
	}
	if key == "" {
		key, err = c.promptSecret("Unseal Key (will be hidden): ")
		if err != nil {
			c.errorf("%s", wrapAtLength("An error occurred attempting to ask for an "+
				"unseal key. The unseal key can be provided as the first argument "+
				"to the unseal command. The raw error was: "+err.Error()))
			return 1
		}
	}
	status, err := client.Sys().UnsealWithOptions(&api.UnsealOpts{Key: key, Migrate: c.flagMigrate})
	if err != nil {
		return c.apiError(err, "Error unsealing")
	}
	return c.outputSealStatus(client, status)
}

type operatorSealCommand struct{ *meta }

func (c *operatorSealCommand) Synopsis() string { return "Seals the server" }

func (c *operatorSealCommand) Help() string {
	return usage(c.prog, `operator seal [options]

  Seals the server. Sealing tells the server to stop responding to any
  operations until it is unsealed. When sealed, the server discards its
  in-memory root key to unlock the data, so it is physically blocked from
  responding to operations unsealed.

  Seal the server:

      $ `+c.prog+` operator seal`, c.flagSet("operator seal"))
}

func (c *operatorSealCommand) Run(args []string) int {
	f := c.flagSet("operator seal")
	_, client, code := c.begin(f, args, false, 0, 0)
	if code != 0 {
		return code
	}
	if err := client.Sys().Seal(); err != nil {
		return c.apiError(err, "Error sealing")
	}
	c.output("Success! Vault is sealed.")
	return 0
}

// keyStatusText renders the barrier key status as Vault prints it.
func keyStatusText(ks *api.KeyStatus) string {
	return columnOutput([]string{
		fmt.Sprintf("Key Term | %d", ks.Term),
		fmt.Sprintf("Install Time | %s", ks.InstallTime.UTC().Format(time.RFC822)),
		fmt.Sprintf("Encryption Count | %d", ks.Encryptions),
	})
}

type operatorKeyStatusCommand struct{ *meta }

func (c *operatorKeyStatusCommand) Synopsis() string {
	return "Provides information about the active encryption key"
}

func (c *operatorKeyStatusCommand) Help() string {
	return usage(c.prog, `operator key-status [options]

  Provides information about the active encryption key. Specifically, the
  current key term and the key installation time.

  Get the key status:

      $ `+c.prog+` operator key-status`, c.flagSet("operator key-status"))
}

func (c *operatorKeyStatusCommand) Run(args []string) int {
	f := c.flagSet("operator key-status")
	_, client, code := c.begin(f, args, false, 0, 0)
	if code != 0 {
		return code
	}
	status, err := client.Sys().KeyStatus()
	if err != nil {
		return c.apiError(err, "Error reading key status")
	}
	if c.format() == "table" {
		c.output(keyStatusText(status))
		return 0
	}
	return c.outputData(status)
}

type operatorRotateCommand struct{ *meta }

func (c *operatorRotateCommand) Synopsis() string { return "Rotates the underlying encryption key" }

func (c *operatorRotateCommand) Help() string {
	return usage(c.prog, `operator rotate [options]

  Rotates the underlying encryption key which is used to secure data written
  to the storage backend. This installs a new key in the key ring. This new
  key is used to encrypt new data, while older keys in the ring are used to
  decrypt older data.

  This is an online operation and does not cause downtime.

  Rotate the encryption key:

      $ `+c.prog+` operator rotate`, c.flagSet("operator rotate"))
}

func (c *operatorRotateCommand) Run(args []string) int {
	f := c.flagSet("operator rotate")
	_, client, code := c.begin(f, args, false, 0, 0)
	if code != 0 {
		return code
	}
	if err := client.Sys().Rotate(); err != nil {
		return c.apiError(err, "Error rotating key")
	}
	status, err := client.Sys().KeyStatus()
	if err != nil {
		return c.apiError(err, "Error reading key status")
	}
	if c.format() == "table" {
		c.output("Success! Rotated key")
		c.output("")
		c.output(keyStatusText(status))
		return 0
	}
	return c.outputData(status)
}
