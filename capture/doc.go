// Package capture is being built; see the README for the module map.
package capture
