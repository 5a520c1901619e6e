package loadgen

import (
	"encoding/csv"
	"io"
)

// WriteSoakCSV writes the samples, one row each, under soakColumns.
func WriteSoakCSV(w io.Writer, samples []SoakSample) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(soakColumns); err != nil {
		return err
	}
	for _, s := range samples {
		if err := cw.Write(s.row()); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
