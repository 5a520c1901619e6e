package delivery

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Outbox is a bounded queue of event bodies on disk: one file per event,
// named by a sequence number that only grows, written whole (a temporary
// file renamed into place), so a crash leaves each event either there or
// not, never torn. It survives restarts; Open lists what was left, in the
// order it was appended. Given-up events are moved to failed/ beside it,
// for an operator to look at or send again.
type Outbox struct {
	dir string
	max int

	mu   sync.Mutex
	next uint64
	n    int
}

// Record is one queued event body.
type Record struct {
	Seq  uint64
	Body []byte
}

const suffix = ".json"

// OpenOutbox opens (making it) the queue in dir, bounded to limit events, and
// returns the events it holds, oldest first.
func OpenOutbox(dir string, limit int) (*Outbox, []Record, error) {
	if err := os.MkdirAll(filepath.Join(dir, "failed"), 0o750); err != nil {
		return nil, nil, err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	var recs []Record
	var next uint64 = 1
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() {
			continue
		}
		if strings.HasSuffix(name, ".tmp") {
			_ = os.Remove(filepath.Join(dir, name)) // a write the process did not finish: never accepted
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimSuffix(name, suffix), 10, 64)
		if err != nil || !strings.HasSuffix(name, suffix) {
			continue
		}
		body, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, nil, err
		}
		recs = append(recs, Record{Seq: seq, Body: body})
		next = max(next, seq+1)
	}
	slices.SortFunc(recs, func(a, b Record) int { return seqCmp(a.Seq, b.Seq) })
	return &Outbox{dir: dir, max: limit, next: next, n: len(recs)}, recs, nil
}

func seqCmp(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (o *Outbox) path(seq uint64) string {
	return filepath.Join(o.dir, fmt.Sprintf("%020d%s", seq, suffix))
}

// Append writes body as the newest event; ErrQueueFull when it holds max.
func (o *Outbox) Append(body []byte) (uint64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.n >= o.max {
		return 0, ErrQueueFull
	}
	seq := o.next
	final := o.path(seq)
	tmp := final + ".tmp"
	if err := os.WriteFile(tmp, body, 0o640); err != nil {
		_ = os.Remove(tmp)
		return 0, err
	}
	if err := os.Rename(tmp, final); err != nil {
		_ = os.Remove(tmp)
		return 0, err
	}
	o.next++
	o.n++
	return seq, nil
}

// Remove deletes a delivered event.
func (o *Outbox) Remove(seq uint64) error {
	err := os.Remove(o.path(seq))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	o.mu.Lock()
	o.n--
	o.mu.Unlock()
	return nil
}

// Fail moves a given-up event to failed/.
func (o *Outbox) Fail(seq uint64) error {
	p := o.path(seq)
	err := os.Rename(p, filepath.Join(o.dir, "failed", filepath.Base(p)))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	o.mu.Lock()
	o.n--
	o.mu.Unlock()
	return nil
}

// Len counts the queued events.
func (o *Outbox) Len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.n
}
