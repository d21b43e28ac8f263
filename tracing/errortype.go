package tracing

import (
	"context"
	"strconv"

	"github.com/rtchain/chain/errclass"
)

// otherValue is the value of an attribute past its cardinality bound.
const otherValue = "_OTHER"

// errorType returns the error.type value for the outcome of one attempt (or
// of a whole logical request), and whether the outcome is a failure at all.
// The values are one vocabulary with the rest of the module: the name of the
// errclass.Class of the error ("timeout", "refused", ...), or the status code
// as text ("503") for a response of 400 or more, following the semantic
// conventions' rule for error.type.
//
// A nil err with a status below 400 is no failure. A cancellation by the
// caller (the request's context is cancelled and the error is a
// cancellation) is no failure either: the span status stays unset and no
// error.type is set. bodyErr tells whether the request body's Read failed
// during the attempt, which makes the class request_body whatever the
// transport made of it.
func errorType(ctx context.Context, status int, err error, bodyErr bool) (string, bool) {
	if err == nil {
		if status >= 400 {
			return statusText(status), true
		}
		return "", false
	}
	if bodyErr {
		return errclass.RequestBody.String(), true
	}
	c := errclass.Classify(err)
	if c == errclass.Canceled && ctx.Err() != nil {
		return "", false
	}
	return c.String(), true
}

// statusTexts holds the text of the statuses from 400 to 599, so that
// recording them allocates nothing.
var statusTexts = func() (a [200]string) {
	for i := range a {
		a[i] = strconv.Itoa(400 + i)
	}
	return a
}()

func statusText(code int) string {
	if code >= 400 && code < 600 {
		return statusTexts[code-400]
	}
	return strconv.Itoa(code)
}
