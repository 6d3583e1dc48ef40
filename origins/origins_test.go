package origins

import "testing"

func TestNormalize(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"https://App.Example.com", "https://app.example.com", true},
		{"https://app.example.com:443", "https://app.example.com", true},
		{"http://app.example.com:80/", "http://app.example.com", true},
		{"http://127.0.0.1:3443", "http://127.0.0.1:3443", true},
		{"http://[::1]:3443", "http://[::1]:3443", true},
		{"http://[::1]", "http://[::1]", true},
		{"https://app.example.com:8443", "https://app.example.com:8443", true},
		{"null", "null", false},
		{"app.example.com", "app.example.com", false},
		{"https://app.example.com/path", "https://app.example.com/path", false},
		{"https://user@app.example.com", "https://user@app.example.com", false},
		{"*", "*", false},
	}
	for _, c := range cases {
		got, ok := Normalize(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("Normalize(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
	s, odd := New([]string{"app.example.com"})
	if s.Allows("https://app.example.com") || len(odd) != 1 {
		t.Error("an invalid allowed-origin entry opened the server")
	}
	var all *Set
	if !all.Allows("https://anything.example") {
		t.Error("a nil Set refused an origin")
	}
}
