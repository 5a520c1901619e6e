package cmdutil

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

type item struct {
	Name  string            `json:"name"`
	Count int               `json:"count"`
	Tags  map[string]string `json:"tags,omitempty"`
}

var itemColumns = []Column[item]{
	{Header: "name", Cell: func(i item) string { return i.Name }},
	{Header: "count", Cell: func(i item) string { return strings.Repeat("*", i.Count) }},
}

func streams(tty bool) (*IOStreams, *bytes.Buffer) {
	var out bytes.Buffer
	return &IOStreams{Out: &out, ErrOut: &out, IsTerminal: tty}, &out
}

func TestPrintListTableOnATerminalHasAHeader(t *testing.T) {
	ios, out := streams(true)
	require.NoError(t, PrintList(ios, FormatTable, []item{{Name: "alpha", Count: 2}, {Name: "b", Count: 12}}, itemColumns))
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	require.Len(t, lines, 3)
	require.Equal(t, []string{"NAME", "COUNT"}, strings.Fields(lines[0]))
	require.Equal(t, []string{"alpha", "**"}, strings.Fields(lines[1]))
	require.Equal(t, []string{"b", "************"}, strings.Fields(lines[2]))
	require.Equal(t, strings.Index(lines[0], "COUNT"), strings.Index(lines[1], "**"), "columns aligned")
	require.NotContains(t, out.String(), "\t")
}

func TestPrintListPipedIsTabSeparatedWithoutHeader(t *testing.T) {
	ios, out := streams(false)
	require.NoError(t, PrintList(ios, FormatTable, []item{{Name: "alpha", Count: 2}, {Name: "b", Count: 1}}, itemColumns))
	require.Equal(t, "alpha\t**\nb\t*\n", out.String())

	ios, out = streams(false)
	require.NoError(t, PrintList(ios, FormatTable, nil, itemColumns))
	require.Empty(t, out.String(), "no items, no rows")
}

func TestPrintListJSONAndYAMLAreTheItemsNotTheColumns(t *testing.T) {
	items := []item{{Name: "alpha", Count: 2, Tags: map[string]string{"k": "v"}}, {Name: "b"}}
	for _, tty := range []bool{true, false} {
		ios, out := streams(tty)
		require.NoError(t, PrintList(ios, FormatJSON, items, itemColumns))
		var got []item
		require.NoError(t, json.Unmarshal(out.Bytes(), &got))
		require.Equal(t, items, got, "tty=%v", tty)
		require.NotContains(t, out.String(), "**", "the table's cells stay out of -o json")

		ios, out = streams(tty)
		require.NoError(t, PrintList(ios, FormatYAML, items, itemColumns))
		got = nil
		require.NoError(t, yaml.Unmarshal(out.Bytes(), &got))
		require.Equal(t, items, got, "tty=%v", tty)
		require.NotContains(t, out.String(), "{", "block style")
		require.Contains(t, out.String(), "- \"name\": \"alpha\"\n", "PrintData's YAML keeps JSON's quoting")
	}

	ios, out := streams(false)
	require.NoError(t, PrintList[item](ios, FormatJSON, nil, itemColumns))
	require.Equal(t, "null\n", out.String(), "a nil list stays null, as the API sent it")
}

func TestColumnsOfSplitsARowFunction(t *testing.T) {
	cols := ColumnsOf([]string{"first", "second"}, func(s string) []string { a, b, _ := strings.Cut(s, ":"); return []string{a, b} })
	ios, out := streams(false)
	require.NoError(t, PrintColumns(ios, []string{"a:1", "b:2"}, cols))
	require.Equal(t, "a\t1\nb\t2\n", out.String())
	require.Equal(t, "second", cols[1].Header)
}

func TestPrintItem(t *testing.T) {
	human := func(ios *IOStreams) func() error {
		return func() error { _, err := ios.Out.Write([]byte("done\n")); return err }
	}
	ios, out := streams(true)
	require.NoError(t, PrintItem(ios, FormatTable, item{Name: "x"}, human(ios)))
	require.Equal(t, "done\n", out.String())

	ios, out = streams(false)
	require.NoError(t, PrintItem(ios, FormatJSON, item{Name: "x", Count: 1}, human(ios)))
	require.JSONEq(t, `{"name":"x","count":1}`, out.String())

	ios, out = streams(false)
	require.NoError(t, PrintItem(ios, FormatYAML, item{Name: "x"}, human(ios)))
	require.Equal(t, "\"name\": \"x\"\n\"count\": 0\n", out.String())

	boom := errors.New("boom")
	ios, _ = streams(false)
	require.ErrorIs(t, PrintItem(ios, FormatTable, item{}, func() error { return boom }), boom)
}
