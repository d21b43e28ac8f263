package errclass

import (
	"errors"
	"net/url"

	"github.com/rtchain/chain/internal/redact"
)

// Redact returns an error safe to log in place of err: its text is err's
// with the secrets removed by the same rules that this module's spans and log
// records follow, and it keeps err's class. A nil err gives nil.
//
// In the text, every URL has its user info and every query value replaced
// by REDACTED, whatever their length, and so are the values of the URLs
// that err's chain holds (net/http's *url.Error) and of those in its text
// wherever else they appear in it: raw, decoded or percent-encoded, and a
// short value (under four bytes) wherever it stands as "key=value" or in
// quotes. net/http itself prints the URL of a failed request, query
// included, in the text of the *url.Error that http.Client returns.
//
// The result matches what err matches with errors.Is (the sentinel of its
// class, context.DeadlineExceeded, a syscall.Errno, ...), gives the same
// answer as err to [Classify], [PhaseOf] and [Neutral], and reports the
// same Timeout. It does not unwrap: errors.As cannot reach err's chain,
// whose values (a *url.Error's URL, a request) may still hold the secrets.
// Branch on err; log Redact(err).
func Redact(err error) error {
	if err == nil {
		return nil
	}
	if r, ok := err.(*redactedError); ok {
		return r
	}
	var s redact.Secrets
	walk(err, func(e error) bool {
		if ue, ok := e.(*url.Error); ok {
			if u, perr := url.Parse(ue.URL); perr == nil {
				s.URL(u)
			}
		}
		return false
	})
	text := err.Error()
	s.Text(text)
	return &redactedError{
		text:    s.Scrub(text),
		err:     err,
		class:   Classify(err),
		phase:   PhaseOf(err),
		neutral: Neutral(err),
		timeout: reportsTimeout(err),
	}
}

// redactedError is what Redact returns. It keeps err only to answer
// errors.Is.
type redactedError struct {
	text    string
	err     error
	class   Class
	phase   Phase
	neutral bool
	timeout bool
}

func (e *redactedError) Error() string { return e.text }

// Is reports whether target is the sentinel of e's class, or anything the
// original error matches.
func (e *redactedError) Is(target error) bool {
	return target != nil && (target == e.class.Sentinel() || errors.Is(e.err, target))
}

// Class returns the class of the original error.
func (e *redactedError) Class() Class { return e.class }

// TimeoutPhase returns the phase of the original error.
func (e *redactedError) TimeoutPhase() Phase { return e.phase }

// Neutral reports what Neutral reported for the original error.
func (e *redactedError) Neutral() bool { return e.neutral }

// Timeout reports what the original error's Timeout method reports.
func (e *redactedError) Timeout() bool { return e.timeout }

// reportsTimeout reports whether the first error in err's chain that has a
// Timeout method says true, as url.Error.Timeout would.
func reportsTimeout(err error) bool {
	t, ok := errors.AsType[interface {
		error
		Timeout() bool
	}](err)
	return ok && t.Timeout()
}
