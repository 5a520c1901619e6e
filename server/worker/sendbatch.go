package worker

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/voicectl/voicectl/internal/udpmsg"
)

// maxSRTPPacket bounds one forwarded packet: an Opus frame (RFC 6716 §3.2.1 caps it
// at 1275 bytes) with its RTP header and the SRTP tag fits.
const maxSRTPPacket = 1500

// maxMmsg stays under the kernel's UIO_MAXIOV (1024) messages per sendmmsg.
const maxMmsg = 1024

// sendBatch gathers one fan-out's packets and writes them with sendmmsg(2), one
// system call per socket instead of one per listener. It belongs to one
// producer's dispatch goroutine and reuses its buffers and message headers packet
// after packet, so a steady fan-out allocates nothing.
type sendBatch struct {
	groups []*sendGroup
}

// sendGroup is the part of a batch that leaves through one socket.
type sendGroup struct {
	sock  *mediaSocket
	hdrs  []udpmsg.Mmsghdr
	iovs  []unix.Iovec
	addrs []unix.RawSockaddrInet4
	bufs  [][]byte // the queued packets, in arena
	n     int
	// arena holds a fan-out's packets back to back (each slot starts on a
	// cache line): a few hundred 100-byte packets then fill a few dozen
	// kilobytes that the CPU and the kernel's copy stream through, instead of
	// one 1500-byte buffer each spread over hundreds of kilobytes.
	arena []byte
	off   int

	// The sendmmsg call in progress: messages [from, from+count), its result.
	from, count, sent int
	errno             syscall.Errno
	writeFn           func(fd uintptr) bool
}

// slot returns a buffer for the next packet to dst through sock. The caller
// fills it and calls commit with the packet; an uncommitted slot is reused.
func (b *sendBatch) slot(sock *mediaSocket, dst *unix.RawSockaddrInet4) (*sendGroup, []byte) {
	var g *sendGroup
	for _, x := range b.groups {
		if x.sock == sock {
			g = x
			break
		}
	}
	if g == nil {
		g = &sendGroup{sock: sock}
		g.writeFn = g.write
		b.groups = append(b.groups, g)
	}
	if g.n == len(g.bufs) {
		g.bufs = append(g.bufs, nil)
		g.hdrs = append(g.hdrs, udpmsg.Mmsghdr{})
		g.iovs = append(g.iovs, unix.Iovec{})
		g.addrs = append(g.addrs, unix.RawSockaddrInet4{})
	}
	if g.off+maxSRTPPacket > len(g.arena) {
		// Packets already queued keep the old arena alive until the flush;
		// from then on the larger one serves whole fan-outs.
		g.arena = make([]byte, max(2*len(g.arena), arenaStart))
		g.off = 0
	}
	g.addrs[g.n] = *dst
	return g, g.arena[g.off : g.off+maxSRTPPacket : g.off+maxSRTPPacket]
}

// arenaStart is a group's first arena: a fan-out of 400 audio packets.
const arenaStart = 64 << 10

// commit queues pkt, written into the group's last slot.
func (g *sendGroup) commit(pkt []byte) {
	g.bufs[g.n] = pkt
	g.n++
	g.off += (len(pkt) + 63) &^ 63
}

// flush sends everything queued and returns how many packets left. A message
// the kernel refuses (an unreachable address) is skipped, not retried, so one
// bad listener cannot stall the others. handoff lets the runtime give the P away
// during the system calls (see sendSocket.sendmmsg); otherwise they are raw,
// non-blocking calls on the send socket (sendmmsgNow).
func (b *sendBatch) flush(handoff bool) (sent int) {
	for _, g := range b.groups {
		if g.n > 0 {
			sent += g.flush(handoff)
		}
	}
	return sent
}

func (g *sendGroup) flush(handoff bool) (sent int) {
	// Pointers are set now, not in slot: the slices may have grown since.
	for i := 0; i < g.n; i++ {
		g.iovs[i].Base = &g.bufs[i][0]
		g.iovs[i].SetLen(len(g.bufs[i]))
		g.hdrs[i].Hdr = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&g.addrs[i])), Namelen: unix.SizeofSockaddrInet4, Iov: &g.iovs[i], Iovlen: 1}
	}
	for g.from = 0; g.from < g.n; {
		g.count = min(g.n-g.from, maxMmsg)
		send := g.sock.send
		if send != nil && handoff {
			g.sent, g.errno = send.sendmmsg(g.hdrs[g.from : g.from+g.count])
			if g.errno == unix.EBADF {
				break // closed: the worker is shutting down
			}
		} else if send != nil {
			g.sent, g.errno = send.sendmmsgNow(g.hdrs[g.from : g.from+g.count])
			if g.errno == unix.EBADF {
				break
			}
			if g.errno == unix.EAGAIN { // full: wait for space in the netpoller
				g.errno = 0
				if err := g.sock.raw.Write(g.writeFn); err != nil {
					break
				}
			}
		} else if err := g.sock.raw.Write(g.writeFn); err != nil {
			break // the socket is closed: the worker is shutting down
		}
		if g.errno != 0 {
			g.from++ // the message at from failed
			continue
		}
		sent += g.sent
		g.from += g.sent
	}
	clear(g.bufs[:g.n])
	g.n, g.off = 0, 0
	return sent
}

// write is the RawConn callback of the media socket, which carries fan-outs
// when there is no send socket, or its buffer is full: one sendmmsg, or false
// to wait until writable.
//
// It is a raw system call: the socket is non-blocking, so the call cannot block,
// and keeping the worker's one P through it means no other thread picks the P up
// and sleeps in epoll meanwhile, only to be woken by every packet the kernel frees
// (write space on the socket) — on loopback that churn cost as much as the sends.
func (g *sendGroup) write(fd uintptr) bool {
	n, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&g.hdrs[g.from])), uintptr(g.count), 0, 0, 0)
	if e == unix.EAGAIN {
		return false
	}
	g.errno = e
	g.sent = 0
	if e == 0 {
		g.sent = int(n)
	}
	return true
}
