package cmdutil

// Column is one column of a listing's table: its header and an item's cell.
// A command lists its columns once, header beside value, instead of keeping
// a header slice and a row function that must agree on the order.
type Column[T any] struct {
	Header string
	Cell   func(T) string
}

// ColumnsOf turns a header and a row function shared with another view (the
// dashboard's tables) into columns. row is called once per cell, so it must be
// cheap and return len(header) cells.
func ColumnsOf[T any](header []string, row func(T) []string) []Column[T] {
	cols := make([]Column[T], len(header))
	for i, h := range header {
		cols[i] = Column[T]{Header: h, Cell: func(v T) string { return row(v)[i] }}
	}
	return cols
}

// PrintList is the body every listing shares: items as JSON or YAML (as the API
// gave them, nil included) or, for the table format, a row per item in cols.
func PrintList[T any](ios *IOStreams, format string, items []T, cols []Column[T]) error {
	if format != FormatTable {
		return PrintData(ios.Out, format, items)
	}
	return PrintColumns(ios, items, cols)
}

// PrintColumns writes items as a table of cols (PrintTable: aligned with a
// header on a terminal, tab-separated without one when piped).
func PrintColumns[T any](ios *IOStreams, items []T, cols []Column[T]) error {
	header := make([]string, len(cols))
	for i, c := range cols {
		header[i] = c.Header
	}
	rows := make([][]string, 0, len(items))
	for _, it := range items {
		row := make([]string, len(cols))
		for i, c := range cols {
			row[i] = c.Cell(it)
		}
		rows = append(rows, row)
	}
	return PrintTable(ios, header, rows)
}

// PrintItem writes one result: v as JSON or YAML, or for the table format what
// human writes for people (a sentence, a summary and its tables).
func PrintItem(ios *IOStreams, format string, v any, human func() error) error {
	if format != FormatTable {
		return PrintData(ios.Out, format, v)
	}
	return human()
}
