// Package bemigin is being built; see the README for the module map.
package bemigin
