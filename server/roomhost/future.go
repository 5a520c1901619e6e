package roomhost

import "context"

// future is the outcome of worker work that one goroutine does and others
// wait for: a router made on its worker, a pipe between two routers, a
// producer's flow through a pipe, a router lent to another server. The one
// that made it sets it once; anyone may then read it without a lock, since
// closing done orders the write before every read that saw it closed.
type future[T any] struct {
	done chan struct{}
	val  T
	err  error
}

func newFuture[T any]() *future[T] { return &future[T]{done: make(chan struct{})} }

// resolvedFuture is a future that is set already (a router another server
// made before it answered).
func resolvedFuture[T any](v T, err error) *future[T] {
	f := newFuture[T]()
	f.set(v, err)
	return f
}

// set records the outcome and wakes every waiter; called once.
func (f *future[T]) set(v T, err error) {
	f.val, f.err = v, err
	close(f.done)
}

// Done is closed once the outcome is set.
func (f *future[T]) Done() <-chan struct{} { return f.done }

// resolved reports whether the outcome is set.
func (f *future[T]) resolved() bool { return isClosed(f.done) }

// succeeded reports an outcome that is set and is no error.
func (f *future[T]) succeeded() bool { return f.resolved() && f.err == nil }

// result waits for the outcome.
func (f *future[T]) result() (T, error) {
	<-f.done
	return f.val, f.err
}

// wait waits for the outcome until ctx ends.
func (f *future[T]) wait(ctx context.Context) (T, error) {
	select {
	case <-f.done:
		return f.val, f.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}
