package loadgencmd

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// reportRows lists a report's fields by their JSON names, for the table output.
func reportRows(v any) [][]string {
	var rows [][]string
	rv := reflect.ValueOf(v)
	rt := rv.Type()
	for i := 0; i < rt.NumField(); i++ {
		name, opts, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		f := rv.Field(i)
		if f.Kind() == reflect.Pointer && f.Type().Elem().Kind() == reflect.Struct {
			// A section (the idle window's): its rows, prefixed, when present.
			if !f.IsNil() {
				for _, row := range reportRows(f.Elem().Interface()) {
					rows = append(rows, []string{name + "." + row[0], row[1]})
				}
			}
			continue
		}
		if name == "listener_gaps_ms" || name == "-" {
			continue // one per listener: -o json has them, the table their p50 and max
		}
		if f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Struct {
			rows = append(rows, []string{name, fmt.Sprint(f.Len())}) // a list: -o json has its items
			continue
		}
		if (f.Kind() == reflect.Map || f.Kind() == reflect.Slice) && f.Len() == 0 && strings.Contains(opts, "omitempty") {
			continue // as -o json leaves it out
		}
		switch f.Kind() {
		case reflect.Map:
			rows = append(rows, []string{name, mapCell(f)})
		case reflect.Slice: // of scalars, the soak's failures: one cell
			cells := make([]string, f.Len())
			for j := range cells {
				cells[j] = cell(f.Index(j))
			}
			rows = append(rows, []string{name, strings.Join(cells, "; ")})
		default:
			rows = append(rows, []string{name, cell(f)})
		}
	}
	return rows
}

// cell renders one value: floats to four significant digits, the rest as Go
// prints them.
func cell(v reflect.Value) string {
	if v.Kind() == reflect.Float64 {
		return fmt.Sprintf("%.4g", v.Float())
	}
	return fmt.Sprint(v.Interface())
}

// mapCell renders a map (latency by worker) as key=value pairs in natural key
// order, "0=0.1525 1=0.2 10=0.3", where Go's fmt would print map[0:0.15249 ...].
func mapCell(m reflect.Value) string {
	pairs := make([][2]string, 0, m.Len())
	for it := m.MapRange(); it.Next(); {
		pairs = append(pairs, [2]string{fmt.Sprint(it.Key().Interface()), cell(it.Value())})
	}
	slices.SortFunc(pairs, func(a, b [2]string) int { return naturalCompare(a[0], b[0]) })
	cells := make([]string, len(pairs))
	for i, p := range pairs {
		cells[i] = p[0] + "=" + p[1]
	}
	return strings.Join(cells, " ")
}

// naturalCompare orders strings with their runs of digits compared as numbers,
// so worker 10 comes after worker 9 (also behind a server prefix, "s/10").
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, ra := leadingRun(a)
		db, rb := leadingRun(b)
		if da && db {
			na, _ := strconv.ParseUint(a[:ra], 10, 64)
			nb, _ := strconv.ParseUint(b[:rb], 10, 64)
			if c := cmp.Compare(na, nb); c != 0 {
				return c
			}
		}
		if c := strings.Compare(a[:ra], b[:rb]); c != 0 {
			return c
		}
		a, b = a[ra:], b[rb:]
	}
	return cmp.Compare(len(a), len(b))
}

// leadingRun returns whether s starts with a digit and the length of its
// leading run of digits, or of non-digits.
func leadingRun(s string) (digits bool, n int) {
	digits = unicode.IsDigit(rune(s[0]))
	for n < len(s) && unicode.IsDigit(rune(s[n])) == digits {
		n++
	}
	return digits, n
}
