package errclass

import "errors"

// Wrap returns an error that matches the sentinel of err's class with
// errors.Is ([ErrNetwork] for a refused connection, [ErrTimeout] for a
// timeout, ...), and is err in every other respect: the same text, Unwrap
// returns err (so errors.Is and errors.As still reach the original cause, a
// syscall.Errno or an x509 error), and Timeout reports what err's does.
//
// Wrap returns err itself when err is nil, when its class has no sentinel,
// or when err already matches that sentinel. Every layer of this module
// passes the errors it returns through Wrap, so that a caller can branch on
// the sentinels whatever layer, or the standard library below it, produced
// the error. Errors of the standard library cannot match a sentinel by
// themselves; the class is computed once, here.
func Wrap(err error) error {
	if err == nil {
		return nil
	}
	c := Classify(err)
	s := c.Sentinel()
	if s == nil || errors.Is(err, s) {
		return err
	}
	return &classedError{err: err, class: c}
}

// classedError is err known to be of class, matching class's sentinel.
type classedError struct {
	err   error
	class Class
}

func (e *classedError) Error() string { return e.err.Error() }
func (e *classedError) Unwrap() error { return e.err }

// Is reports whether target is the sentinel of e's class.
func (e *classedError) Is(target error) bool { return target == e.class.Sentinel() }

// Class returns the class computed when e was made.
func (e *classedError) Class() Class { return e.class }

// Timeout reports whether the wrapped error is a timeout, so that
// url.Error.Timeout keeps working through the wrapper.
func (e *classedError) Timeout() bool { return reportsTimeout(e.err) }
