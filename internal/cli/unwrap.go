package cli

import (
	"context"
)

type unwrapCommand struct{ *meta }

func (c *unwrapCommand) Synopsis() string { return "Unwrap a wrapped secret" }

func (c *unwrapCommand) Help() string {
	return usage(c.prog, `unwrap [options] [TOKEN]

  Unwraps a wrapped secret from the server and prints it as it was before it
  was wrapped. The wrapping token may be given as the argument; without one,
  the command's own token (VAULT_TOKEN or the token helper) is the wrapping
  token.

  Unwrap a response-wrapped token:

      $ `+c.prog+` unwrap hvs.AbCd...

  Unwrap with the wrapping token in VAULT_TOKEN:

      $ VAULT_TOKEN=hvs.AbCd... `+c.prog+` unwrap`, c.flagSet("unwrap"))
}

func (c *unwrapCommand) Run(args []string) int {
	f := c.flagSet("unwrap")
	args, client, code := c.begin(f, args, false, 0, 1)
	if code != 0 {
		return code
	}
	token := ""
	if len(args) == 1 {
		token = args[0]
	}
	ctx, cancel := context.WithTimeout(context.Background(), client.ClientTimeout())
	defer cancel()
	secret, err := client.Logical().UnwrapWithContext(ctx, token)
	if err != nil {
		return c.apiError(err, "Error unwrapping")
	}
	if secret == nil {
		c.errorf("Could not find wrapped response")
		return 2
	}
	if c.flagField != "" {
		return c.printRawField(secret, c.flagField)
	}
	return c.outputSecret(secret)
}
