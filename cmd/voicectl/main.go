// Command voicectl runs and operates the voicectl voice server.
package main

import (
	"os"

	"github.com/voicectl/voicectl/cmd/internal/root"
)

func main() { os.Exit(root.Main(os.Args[1:])) }
