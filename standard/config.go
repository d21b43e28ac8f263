package standard

import (
	"fmt"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/rtchain/chain/limit"
)

// Config is the configuration in force in a Stack, layer by layer, as
// [Stack.Config] reports it. Its String method prints it as a table.
type Config struct {
	// Layers are the places of the stack, outermost first, in the order
	// of the package documentation, then the base ("base").
	Layers []LayerConfig
	// Notes name the settings that can never take effect alongside the
	// others, one sentence each: a bound that another always beats. The
	// stack runs with them; they do nothing.
	Notes []string
	// LimitKeys are the figures of the limit layer's keys, sorted by key;
	// empty without the layer.
	LimitKeys []LimitKey
}

// LayerConfig is one layer of a [Config].
type LayerConfig struct {
	// Name is the layer's name ([Layer.String]), or "base".
	Name string
	// State is "on", "off" (an opt-in layer not asked for), "replaced"
	// (WithLayer) or "removed" (WithoutLayer); for the base, what it is:
	// "timeouts.NewTransport", or "WithBase(T)" with T its type, followed
	// by "+ WithTLS" with a tlsrotate transport on it.
	State string
	// Settings are the settings of the layer when the stack built it,
	// each a bound or a choice it enforces.
	Settings []Setting
}

// Setting is one setting of a layer.
type Setting struct {
	// Option is the option that sets it, "timeouts.WithResponseHeader".
	Option string
	// Value is the value in force, as the option's arguments are written
	// ("10s", "0.05", "100ms, 10s, full"); "off" for a bound turned off.
	Value string
	// Default is the value in a stack made without options.
	Default string
}

// LimitKey is the state of one key of the limit layer.
type LimitKey struct {
	Key string
	limit.Stats
}

// Config returns the configuration in force: every layer in its place,
// with its state and its settings (after Update, the updated ones), notes
// on the settings that can never take effect, and the limit layer's keys.
// It is safe to call at any time; a command line tool prints it to show
// what a set of options gives: fmt.Print(standard.New(opts...).Config()).
func (s *Stack) Config() Config {
	s.mu.Lock()
	c := s.c
	s.mu.Unlock()
	v := s.values(&c)
	cfg := Config{Notes: v.notes(&c)}
	def := defaultValues()
	for l := range numLayers {
		lc := LayerConfig{Name: l.String(), State: c.state(l)}
		if lc.State == "on" {
			lc.Settings = v.settings(l, def)
		}
		cfg.Layers = append(cfg.Layers, lc)
	}
	base := LayerConfig{Name: "base", State: "timeouts.NewTransport"}
	if c.base != nil {
		base.State = fmt.Sprintf("WithBase(%T)", c.base)
	} else {
		base.Settings = v.baseSettings(def)
	}
	if c.tls != nil {
		base.State += " + WithTLS"
	}
	cfg.Layers = append(cfg.Layers, base)
	if lim := s.limit; lim != nil {
		for _, k := range lim.Keys() {
			cfg.LimitKeys = append(cfg.LimitKeys, LimitKey{Key: k, Stats: lim.Stats(k)})
		}
	}
	return cfg
}

// Describe returns the Config of New(opts...), or the error for which New
// would panic, naming the settings at fault. It is for tools that take
// settings from outside the program (flags, files), which must report a bad
// combination rather than panic: rtprobe -config prints
// standard.Describe(opts...). The stack it builds to read the settings
// sends nothing, and its idle connections (none) are closed.
func Describe(opts ...Option) (Config, error) {
	c := newConfig(opts)
	if err := c.check(); err != nil {
		return Config{}, err
	}
	s := New(opts...)
	defer s.CloseIdleConnections()
	return s.Config(), nil
}

// state returns the State of layer l in a Config.
func (c *config) state(l Layer) string {
	switch sl := c.slots[l]; {
	case sl.set && sl.mw == nil:
		return "removed"
	case sl.set:
		return "replaced"
	case c.on(l):
		return "on"
	}
	return "off"
}

// defaultValues returns the settings of a stack made without options.
var defaultValues = sync.OnceValue(func() values {
	s := New(WithBase(nopTransport{}), WithHedge(), WithLimit())
	return s.values(&s.c)
})

// String returns the Config as a table: one line per setting, with the
// layer that enforces it, its value and its default, then the notes and the
// limit layer's keys.
func (cfg Config) String() string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "LAYER\tSETTING\tVALUE\tDEFAULT")
	for _, l := range cfg.Layers {
		if l.State != "on" || len(l.Settings) == 0 {
			fmt.Fprintf(w, "%s\t(%s)\t\t\n", l.Name, l.State)
		}
		for _, st := range l.Settings {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", l.Name, st.Option, st.Value, st.Default)
		}
	}
	w.Flush()
	if len(cfg.Notes) > 0 {
		b.WriteString("\nNOTES\n")
		for _, n := range cfg.Notes {
			b.WriteString("- " + n + "\n")
		}
	}
	if len(cfg.LimitKeys) > 0 {
		b.WriteString("\n")
		w = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(w, "LIMIT KEY\tLIMIT\tIN FLIGHT\tWAITING")
		for _, k := range cfg.LimitKeys {
			fmt.Fprintf(w, "%s\t%d\t%d\t%d\n", k.Key, k.Limit, k.InFlight, k.Waiting)
		}
		w.Flush()
	}
	return trimLines(b.String())
}

// trimLines removes the padding that tabwriter leaves at the end of lines.
func trimLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}
