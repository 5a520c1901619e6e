package wire

import "errors"

// Coder is an error that knows the stable code it is answered with. Sentinel
// errors carry their code this way, so that every layer answering an error
// (a signalling error, an admin or API HTTP error) maps it the same way:
// with CodeOf.
type Coder interface {
	error
	ErrorCode() Code
}

// CodedError is a sentinel error with its code; compare it with errors.Is.
type CodedError struct {
	code Code
	msg  string
}

// NewError makes a sentinel error answered with code.
func NewError(code Code, msg string) *CodedError { return &CodedError{code: code, msg: msg} }

func (e *CodedError) Error() string { return e.msg }

// ErrorCode implements Coder.
func (e *CodedError) ErrorCode() Code { return e.code }

// CodeOf is the code err is answered with: that of the first Coder in its
// chain, CodeInternal when there is none (a bug or a failure the client
// cannot act on), "" for nil.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var c Coder
	if errors.As(err, &c) {
		return c.ErrorCode()
	}
	return CodeInternal
}
