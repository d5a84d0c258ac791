// Command weft is Weft's single binary: storage node, devnet, client and
// tools. See weft --help.
package main

import (
	"os"

	"github.com/weftnet/weft/internal/cli"
)

func main() {
	os.Exit(cli.Run(os.Args[1:], cli.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}))
}
