// Package convert turns column values from pgoutput's text format into JSON,
// without loss.
package convert
