package demo

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// writeTable writes rows under a header in psql's aligned format: columns
// separated by " | ", a dashed line under the header, and a row count.
func writeTable(w io.Writer, header []string, rows [][]string) error {
	widths := make([]int, len(header))
	for i, h := range header {
		widths[i] = utf8.RuneCountInString(h)
	}
	for _, row := range rows {
		for i, cell := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}

	var b strings.Builder
	writeRow(&b, header, widths, true)
	for i, width := range widths {
		if i > 0 {
			b.WriteByte('+')
		}
		b.WriteString(strings.Repeat("-", width+2))
	}
	b.WriteByte('\n')
	for _, row := range rows {
		writeRow(&b, row, widths, false)
	}
	if len(rows) == 1 {
		b.WriteString("(1 row)\n")
	} else {
		fmt.Fprintf(&b, "(%d rows)\n", len(rows))
	}

	_, err := io.WriteString(w, b.String())

	return err
}

// writeRow writes one line of cells padded to widths. psql centers header
// cells; data cells are left-aligned.
func writeRow(b *strings.Builder, cells []string, widths []int, center bool) {
	for i, cell := range cells {
		if i > 0 {
			b.WriteString("|")
		}
		pad := widths[i] - utf8.RuneCountInString(cell)
		left := 0
		if center {
			left = pad / 2
		}
		b.WriteByte(' ')
		b.WriteString(strings.Repeat(" ", left))
		b.WriteString(cell)
		// psql leaves no trailing spaces after the last column.
		if i < len(cells)-1 {
			b.WriteString(strings.Repeat(" ", pad-left))
			b.WriteByte(' ')
		}
	}
	b.WriteByte('\n')
}
