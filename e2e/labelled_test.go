package e2e

import (
	"bytes"
	"io"
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// labelledStderr is the shared stderr for one process a test started, each
// line led by the test's name and the process's address: the e2e tests run
// in parallel, and a failure's server logs, interleaved with every other
// test's, could not be told apart.
func labelledStderr(test, process string) io.Writer {
	return &lineLabeller{w: os.Stderr, label: []byte(test + " " + process + ": ")}
}

type lineLabeller struct {
	mu      sync.Mutex
	w       io.Writer
	label   []byte
	partial []byte
}

// Write passes on every whole line, labelled; a line's start waits for its
// end, so labels never land inside another process's line.
func (l *lineLabeller) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := make([]byte, 0, len(l.label)+i+1)
		line = append(append(line, l.label...), l.partial[:i+1]...)
		_, _ = l.w.Write(line) // the test's own copy (logs) is what tests read
		l.partial = l.partial[i+1:]
	}
}

func TestLabelledLinesStayWhole(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	l := &lineLabeller{w: &out, label: []byte("TestX serve: ")}
	for _, chunk := range []string{`{"a":`, "1}\n{\"b\"", ":2}\n", "\n", "tail"} {
		n, err := l.Write([]byte(chunk))
		require.NoError(t, err)
		require.Equal(t, len(chunk), n)
	}
	require.Equal(t, "TestX serve: {\"a\":1}\nTestX serve: {\"b\":2}\nTestX serve: \n", out.String(), "a line is passed on whole, once it ends")
}
