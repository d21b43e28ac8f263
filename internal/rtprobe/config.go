package rtprobe

import (
	"fmt"
	"strings"

	"github.com/rtchain/chain/standard"
)

// configJSON is the JSON object of -config -json: standard.Config with the
// command's own field names.
type configJSON struct {
	Layers []layerJSON `json:"layers"`
	Notes  []string    `json:"notes"`
	Fleet  string      `json:"fleet,omitempty"` // the -fleet URL, redacted
}

type layerJSON struct {
	Layer    string        `json:"layer"`
	State    string        `json:"state"`
	Settings []settingJSON `json:"settings,omitempty"`
}

type settingJSON struct {
	Option  string `json:"option"`
	Value   string `json:"value"`
	Default string `json:"default"`
}

// runConfig prints the configuration of the standard stack that the flags
// give, as standard.Describe reports it, and sends nothing. Two bounds that
// contradict each other are a one-line error, exit code 2.
func runConfig(pf probeFlags, con console) (int, error) {
	probe := &probeClient{}
	defer probe.close()
	if pf.certFile != "" {
		src, err := pf.source(nil)
		if err != nil {
			return 2, err
		}
		probe.src = src
	}
	cfg, err := standard.Describe(pf.options(clientHooks{}, probe.src)...)
	if err != nil {
		return 2, contradiction(err)
	}
	fleet := ""
	if pf.fleetURL != nil {
		fleet = redactedURL(pf.fleet)
	}
	if pf.json {
		writeJSON(con.out, toConfigJSON(cfg, fleet))
		return 0, nil
	}
	fmt.Fprint(con.out, strings.TrimSuffix(cfg.String(), "\n")+"\n")
	if fleet != "" {
		fmt.Fprintf(con.out, "\nFLEET\n- the breakers' state (breaker.WithStore) and the retry budget (retry.WithStore) are shared through %s\n", fleet)
	}
	return 0, nil
}

func toConfigJSON(cfg standard.Config, fleet string) configJSON {
	out := configJSON{Notes: append([]string{}, cfg.Notes...), Fleet: fleet}
	for _, l := range cfg.Layers {
		lj := layerJSON{Layer: l.Name, State: l.State}
		for _, s := range l.Settings {
			lj.Settings = append(lj.Settings, settingJSON{Option: s.Option, Value: s.Value, Default: s.Default})
		}
		out.Layers = append(out.Layers, lj)
	}
	return out
}
