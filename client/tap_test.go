package client

import (
	"encoding/binary"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
)

func TestKernelTimeParsesSCMTimestampNS(t *testing.T) {
	want := time.Unix(1795640000, 123456789)
	oob := make([]byte, syscall.CmsgSpace(16))
	h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level, h.Type = syscall.SOL_SOCKET, syscall.SCM_TIMESTAMPNS
	h.SetLen(syscall.CmsgLen(16))
	data := oob[syscall.CmsgLen(0):]
	binary.NativeEndian.PutUint64(data[0:8], uint64(want.Unix()))
	binary.NativeEndian.PutUint64(data[8:16], uint64(want.Nanosecond()))
	got, ok := kernelTime(oob)
	require.True(t, ok)
	require.True(t, got.Equal(want), "got %v", got)

	_, ok = kernelTime(nil)
	require.False(t, ok)
}

func TestIsRTP(t *testing.T) {
	rtp := []byte{0x80, 111, 0, 1, 0, 0, 0, 1, 0, 0, 0, 42}
	require.True(t, isRTP(rtp))
	rtcp := []byte{0x81, 201, 0, 7, 0, 0, 0, 1, 0, 0, 0, 42}
	require.False(t, isRTP(rtcp), "RTCP receiver report")
	stun := []byte{0x00, 0x01, 0, 0, 0x21, 0x12, 0xa4, 0x42, 0, 0, 0, 0}
	require.False(t, isRTP(stun))
	dtls := []byte{22, 254, 253, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	require.False(t, isRTP(dtls))
	require.False(t, isRTP(rtp[:11]), "too short")
}
