// Package pgxbemi is being built; see the README for the module map.
package pgxbemi
