package supervisor

import "os/exec"

// WorkerCommand returns the command that starts worker index; its stdin and stdout
// become the IPC channel. Production re-executes the voicectl binary as `voicectl worker`.
type WorkerCommand func(index int) *exec.Cmd
