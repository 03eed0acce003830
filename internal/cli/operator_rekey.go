package cli

import (
	"fmt"
	"strings"

	"github.com/hashicorp/vault/api"
)

type operatorRekeyCommand struct {
	*meta
	flagInit         bool
	flagCancel       bool
	flagStatus       bool
	flagKeyShares    int
	flagKeyThreshold int
	flagNonce        string
}

func (c *operatorRekeyCommand) Synopsis() string { return "Generates new unseal keys" }

func (c *operatorRekeyCommand) Help() string {
	return usage(c.prog, `operator rekey [options] [KEY]

  Generates a new set of unseal keys. This can optionally change the total
  number of key shares or the required threshold of those key shares to
  reconstruct the root key. This operation is zero downtime, but it requires
  the server is unsealed and a quorum of existing unseal keys are provided.

  An unseal key may be provided directly on the command line as an argument to
  the command. If key is specified as "-", the command will read from stdin. If
  a TTY is available, the command will prompt for text.

  Initialize a rekey:

      $ `+c.prog+` operator rekey -init -key-shares=15 -key-threshold=9

  Provide an unseal key:

      $ `+c.prog+` operator rekey -nonce="..." KEY`, c.flags())
}

func (c *operatorRekeyCommand) flags() *flagSet {
	s := c.flagSet("operator rekey")
	s.section("Common Options")
	s.boolVar(&c.flagInit, "init", false,
		"Initialize the rekeying operation. This can only be done if no rekeying "+
			"operation is in progress. Customize the new number of key shares and key "+
			"threshold using the -key-shares and -key-threshold flags.")
	s.boolVar(&c.flagCancel, "cancel", false,
		"Reset the rekeying progress. This will discard any submitted unseal keys or configuration.")
	s.boolVar(&c.flagStatus, "status", false,
		"Print the status of the current attempt without providing an unseal key.")
	s.intVar(&c.flagKeyShares, "key-shares", 5,
		"Number of key shares to split the generated root key into. This is the "+
			"number of \"unseal keys\" to generate.", "n")
	s.intVar(&c.flagKeyThreshold, "key-threshold", 3,
		"Number of key shares required to reconstruct the root key. This must be "+
			"less than or equal to -key-shares.", "t")
	s.stringVar(&c.flagNonce, "nonce", "",
		"Nonce value provided at initialization. The same nonce value must be provided with each unseal key.")
	return s
}

func (c *operatorRekeyCommand) Run(args []string) int {
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
	case c.flagCancel:
		if err := client.Sys().RekeyCancel(); err != nil {
			return c.apiError(err, "Error canceling rekey")
		}
		c.output("Success! Canceled rekeying (if it was started)")
		return 0
	case c.flagInit:
		status, err := client.Sys().RekeyInit(&api.RekeyInitRequest{
			SecretShares:    c.flagKeyShares,
			SecretThreshold: c.flagKeyThreshold,
		})
		if err != nil {
			return c.apiError(err, "Error initializing rekey")
		}
		if c.format() == "table" {
			c.warn(wrapAtLength("WARNING! If you lose the keys after they are returned, " +
				"there is no recovery. Consider canceling this operation and " +
				"re-initializing with the -pgp-keys flag to protect the returned unseal " +
				"keys along with -backup to allow recovery of the encrypted keys in case " +
				"of emergency. You can delete the stored keys later using the -delete flag."))
			c.output("")
		}
		return c.printStatus(status)
	case c.flagStatus:
		status, err := client.Sys().RekeyStatus()
		if err != nil {
			return c.apiError(err, "Error reading rekey status")
		}
		return c.printStatus(status)
	}
	key := ""
	if len(args) == 1 {
		key = strings.TrimSpace(args[0])
	}
	return c.provide(client, key)
}

func (c *operatorRekeyCommand) provide(client *api.Client, key string) int {
	status, err := client.Sys().RekeyStatus()
	if err != nil {
		return c.apiError(err, "Error getting rekey status")
	}
	if !status.Started {
		c.errorf("%s", wrapAtLength("No rekey is in progress. Start a rekey process by "+
			"running \"vault operator rekey -init\"."))
		return 1
	}
	key, nonce, code := c.keyShare(key, c.flagNonce, status.Nonce, "Rekey operation nonce")
	if code != 0 {
		return code
	}
	resp, err := client.Sys().RekeyUpdate(key, nonce)
	if err != nil {
		return c.apiError(err, "Error posting unseal key")
	}
	if !resp.Complete {
		status, err := client.Sys().RekeyStatus()
		if err != nil {
			return c.apiError(err, "Error reading rekey status")
		}
		return c.printStatus(status)
	}
	return c.printUnsealKeys(status, resp)
}

func (c *operatorRekeyCommand) printStatus(status *api.RekeyStatusResponse) int {
	if c.format() != "table" {
		return c.outputData(status)
	}
	out := []string{
		"Key | Value",
		fmt.Sprintf("Nonce | %s", status.Nonce),
		fmt.Sprintf("Started | %t", status.Started),
	}
	if status.Started {
		if status.Progress == status.Required {
			out = append(out, fmt.Sprintf("Rekey Progress | %d/%d (verification in progress)", status.Progress, status.Required))
		} else {
			out = append(out, fmt.Sprintf("Rekey Progress | %d/%d", status.Progress, status.Required))
		}
		out = append(out,
			fmt.Sprintf("New Shares | %d", status.N),
			fmt.Sprintf("New Threshold | %d", status.T),
			fmt.Sprintf("Verification Required | %t", status.VerificationRequired))
		if status.VerificationNonce != "" {
			out = append(out, fmt.Sprintf("Verification Nonce | %s", status.VerificationNonce))
		}
	}
	c.output(tableOutput(out, "|"))
	return 0
}

func (c *operatorRekeyCommand) printUnsealKeys(status *api.RekeyStatusResponse, resp *api.RekeyUpdateResponse) int {
	if c.format() != "table" {
		return c.outputData(resp)
	}
	c.output("")
	for i, key := range resp.Keys {
		if len(resp.KeysB64) == len(resp.Keys) {
			key = resp.KeysB64[i]
		}
		c.output(fmt.Sprintf("Key %d: %s", i+1, key))
	}
	c.output("")
	c.output("Operation nonce: " + resp.Nonce)
	c.output("")
	c.output(wrapAtLength(fmt.Sprintf("Vault unseal keys rekeyed with %d key shares and a "+
		"key threshold of %d. Please securely distribute the key shares printed "+
		"above. When Vault is re-sealed, restarted, or stopped, you must supply at "+
		"least %d of these keys to unseal it before it can start servicing requests.",
		status.N, status.T, status.T)))
	return 0
}
