package cli

import (
	"context"
	"fmt"
	"strings"
)

type reportCommand struct{ *meta }

func (c *reportCommand) Synopsis() string { return "Print the dynamic secrets report" }

func (c *reportCommand) Help() string {
	return usage(c.prog, `report [options]

  Prints the dynamic secrets report computed by the server from its state:
  the mounted secrets engines, the credentials generated in the last 24
  hours per path, lease status (active, renewed, revoked, expired,
  irrevocable, orphans cleaned) and security posture (root credential
  rotations, audit devices, failed authentications, policy violations).
  The counters survive server restarts.

  Print the report:

      $ `+c.prog+` report

  Print the same data as JSON:

      $ `+c.prog+` report -format=json`, c.flags())
}

func (c *reportCommand) flags() *flagSet { return c.flagSet("report") }

func (c *reportCommand) Run(args []string) int {
	f := c.flags()
	_, client, code := c.begin(f, args, false, 0, 0)
	if code != 0 {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), client.ClientTimeout())
	defer cancel()
	secret, err := client.Logical().ReadWithContext(ctx, "sys/report")
	if err != nil {
		return c.apiError(err, "Error reading the report")
	}
	if secret == nil || secret.Data == nil {
		c.errorf("Error reading the report: the server returned no data")
		return 2
	}
	data := make(map[string]interface{}, len(secret.Data))
	for k, v := range secret.Data {
		if k != "text" {
			data[k] = v
		}
	}
	if c.flagField != "" {
		return c.printRawField(secret.Data, c.flagField)
	}
	if c.format() != "table" {
		return c.outputData(data)
	}
	text, ok := secret.Data["text"].(string)
	if !ok {
		c.errorf("Error reading the report: the server returned no text")
		return 2
	}
	fmt.Fprint(c.stdout, text)
	if !strings.HasSuffix(text, "\n") {
		fmt.Fprintln(c.stdout)
	}
	return 0
}
