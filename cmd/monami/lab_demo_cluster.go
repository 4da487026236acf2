package main

import (
	"encoding/json"
	"io"

	"github.com/spf13/cobra"

	"monami/internal/demo"
)

// runCluster runs the home agent cluster scenario; it fails when the TCP
// stream broke, a takeover took 3 s or more, losing an etcd member
// disturbed anything, or the partition showed two nodes serving at once.
func runCluster(cmd *cobra.Command, opt demo.Options, asJSON bool) error {
	sum, err := demo.RunCluster(cmd.Context(), opt)
	if sum == nil {
		return err
	}
	if jerr := writeSummary(cmd, asJSON, sum); jerr != nil {
		return jerr
	}
	return err
}

// writeSummary prints a lab run's summary as indented JSON or as its
// report.
func writeSummary(cmd *cobra.Command, asJSON bool, sum interface{ WriteReport(io.Writer) }) error {
	if !asJSON {
		sum.WriteReport(cmd.OutOrStdout())
		return nil
	}
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(sum)
}
