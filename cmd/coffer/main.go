// Command coffer is the Coffer server and its Vault-compatible CLI.
package main

import (
	"os"

	"github.com/coffer-dev/coffer/internal/cli"
)

func main() {
	os.Exit(cli.Run(os.Args))
}
