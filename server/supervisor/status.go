package supervisor

// WorkerStatus is a snapshot of one worker's supervision state.
type WorkerStatus struct {
	Index    int
	Port     int
	PID      int
	Ready    bool
	Restarts int
}
