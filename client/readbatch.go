package client

import (
	"net/netip"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/voicectl/voicectl/internal/udpmsg"
)

// readBatch is the buffers and message headers of one recvmmsg(2): datagrams,
// source addresses and the kernel's arrival timestamps (SO_TIMESTAMPNS).
type readBatch struct {
	hdrs  []udpmsg.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrAny
	bufs  [][]byte
	oobs  [][]byte
}

func newReadBatch(n int) *readBatch {
	b := &readBatch{
		hdrs:  make([]udpmsg.Mmsghdr, n),
		iovs:  make([]unix.Iovec, n),
		names: make([]unix.RawSockaddrAny, n),
		bufs:  make([][]byte, n),
		oobs:  make([][]byte, n),
	}
	for i := range b.hdrs {
		b.bufs[i] = make([]byte, 1500)
		b.oobs[i] = make([]byte, 64)
		b.iovs[i].Base = &b.bufs[i][0]
		b.iovs[i].SetLen(len(b.bufs[i]))
		h := &b.hdrs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		h.Iov = &b.iovs[i]
		h.Iovlen = 1
		h.Control = &b.oobs[i][0]
	}
	return b
}

// size is how many datagrams one recv can take.
func (b *readBatch) size() int { return len(b.hdrs) }

// recv is one non-blocking recvmmsg(2) on fd into the batch.
func (b *readBatch) recv(fd int) (int, unix.Errno) {
	for i := range b.hdrs {
		b.hdrs[i].Hdr.Namelen = unix.SizeofSockaddrAny
		b.hdrs[i].Hdr.SetControllen(len(b.oobs[i]))
	}
	n, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&b.hdrs[0])), uintptr(len(b.hdrs)),
		unix.MSG_DONTWAIT, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), 0
}

// data is datagram i of the last recv.
func (b *readBatch) data(i int) []byte { return b.bufs[i][:b.hdrs[i].Len] }

// from is datagram i's source.
func (b *readBatch) from(i int) netip.AddrPort { return udpmsg.AddrPort(&b.names[i]) }

// arrival is when the kernel received datagram i, if it said.
func (b *readBatch) arrival(i int) (time.Time, bool) {
	return kernelTime(b.oobs[i][:b.hdrs[i].Hdr.Controllen])
}
