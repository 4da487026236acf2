package main

import (
	"encoding/json"

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
	if asJSON {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(sum); jerr != nil {
			return jerr
		}
	} else {
		sum.WriteReport(cmd.OutOrStdout())
	}
	return err
}
