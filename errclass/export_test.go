package errclass

import "time"

// SetBodyWait sets the bound of FromResponse's body read and returns a
// function that restores it.
func SetBodyWait(d time.Duration) (restore func()) {
	old := bodyWait
	bodyWait = d
	return func() { bodyWait = old }
}

// StdlibText is the test view of one text-matched standard library error.
type StdlibText struct {
	Text, Source, Name string
	Class              Class
	Phase              Phase
	Unsent             bool
}

// StdlibTexts returns the table of text-matched standard library errors.
func StdlibTexts() []StdlibText {
	out := make([]StdlibText, len(stdlibTexts))
	for i, t := range stdlibTexts {
		out[i] = StdlibText{t.text, t.source, t.name, t.class, t.phase, t.unsent}
	}
	return out
}
