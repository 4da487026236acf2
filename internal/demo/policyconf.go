package demo

import "fmt"

// Ports of the scenarios' watched flows. Each end uses the same port, so a
// selector on dst_port catches the flow both ways, whichever way the home
// agent mirrors it.
const (
	bicastPort = 5005 // the 1 kHz UDP flow marked bicast
	pinnedPort = 5201 // the TCP flow bound to lte, then moved
	bulkPort   = 5010 // first of the bulk TCP flows (5010..5017)
)

// scenarioPolicy is the policy: section of mn.yaml for a scenario (schema:
// examples/mn.yaml; parsed by internal/policy). Interface names are the
// demo's.
func scenarioPolicy(name string) (string, error) {
	switch name {
	case "share":
		// Weights follow the links' rates (40 and 20 Mbit/s).
		return fmt.Sprintf(`policy:
  interfaces:
    - {name: %[1]s, weight: 2}
    - {name: %[2]s, weight: 1}
  default:
    share: [%[1]s, %[2]s]
`, activeIf, backupIf), nil
	case "bicast":
		return fmt.Sprintf(`policy:
  rules:
    - name: bicast
      match: {next_header: udp, dst_port: %[3]d}
      bicast: [%[1]s, %[2]s]
  default:
    interfaces: [%[1]s, %[2]s]
`, activeIf, backupIf, bicastPort), nil
	case "policy":
		return fmt.Sprintf(`policy:
  rules:
    - name: pinned
      match: {next_header: tcp, dst_port: %[3]d}
      interfaces: [%[2]s, %[1]s]
    - name: bulk
      match: {next_header: tcp}
      interfaces: [%[1]s, %[2]s]
  default:
    interfaces: [%[1]s, %[2]s]
`, activeIf, backupIf, pinnedPort), nil
	case "degraded":
		return "", nil // the default policy: failover in priority order
	}
	return "", fmt.Errorf("scenario %q: want share, bicast, policy or degraded", name)
}
