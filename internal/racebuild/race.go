//go:build race

package racebuild

// Enabled reports whether the binary was built with -race (whose
// sync.Pool drops items at random, so allocation counts differ).
const Enabled = true
