package hostkey

import (
	"net/http"
	"net/url"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestOf(t *testing.T) {
	tests := []struct{ url, host, want string }{
		{"https://api.example/x", "", "api.example"},
		{"https://API.example/x", "", "api.example"},
		{"https://api.example:443/x", "", "api.example"},
		{"http://api.example:80/x", "", "api.example"},
		{"http://api.example:443/x", "", "api.example:443"},
		{"https://api.example:8443/x", "", "api.example:8443"},
		{"https://[::1]:443/x", "", "::1"},
		{"https://[::1]:8443/x", "", "[::1]:8443"},
		{"HTTPS://Api.Example:443/x", "", "api.example"},
		{"/relative", "Host.Example:80", "host.example:80"}, // no scheme: the port stays
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		req := &http.Request{URL: u, Host: tt.host}
		if got := Of(req); got != tt.want {
			t.Errorf("Of(%s, Host %q) = %q, want %q", tt.url, tt.host, got, tt.want)
		}
	}
}

func TestOfAllocatesNothingWhenNormal(t *testing.T) {
	req, _ := http.NewRequest("GET", "https://api.example:443/x", nil)
	if n := testing.AllocsPerRun(100, func() { _ = Of(req) }); n != 0 {
		t.Errorf("Of allocates %v times for a lower-case host", n)
	}
}

func BenchmarkOf(b *testing.B) {
	req, _ := http.NewRequest("GET", "https://api.example:443/x", nil)
	b.ReportAllocs()
	for b.Loop() {
		_ = Of(req)
	}
}
