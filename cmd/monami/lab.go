package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"monami/internal/lab"
)

// labCmd is `monami lab`; other files add subcommands to it (lab bench).
var labCmd = &cobra.Command{
	Use:   "lab",
	Short: "Build test networks in Linux network namespaces, with impaired links",
	Long: `lab builds the network described in a YAML topology file out of network
namespaces, veth pairs, routes and sysctls, impairs links (rate via TBF, loss via
nftables, delay and jitter via a userspace relay) and starts processes on nodes.
State lives in /run/monami/lab/<name>/, so "lab down" cleans up even after a crash.`,
}

var labName string

func init() {
	root.AddCommand(markRoot(labCmd))
	labCmd.PersistentFlags().StringVar(&labName, "lab", "", "lab name (default: the only lab that is up)")

	var upName string
	up := &cobra.Command{
		Use:   "up FILE",
		Short: "Build the lab described in FILE and exit (it keeps running)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := lab.Load(args[0])
			if err != nil {
				return err
			}
			if upName != "" {
				t.Name = upName
				if err := t.Validate(); err != nil {
					return err
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			l, err := lab.Up(ctx, t)
			if err != nil {
				return err
			}
			defer l.Close()
			fmt.Fprintf(cmd.OutOrStdout(), "lab %s is up: %d nodes, %d links, %d processes (state %s)\n",
				l.Name(), len(t.Nodes), len(t.Links), len(t.Processes), l.StateDir())
			return nil
		},
	}
	up.Flags().StringVar(&upName, "name", "", "override the lab name from the file")

	down := &cobra.Command{
		Use:   "down [NAME]",
		Short: "Remove a lab: processes, relays, namespaces, interfaces, nftables tables",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := labName
			if len(args) == 1 {
				name = args[0]
			}
			name, err := pickLab(name)
			if err != nil {
				return err
			}
			if err := lab.Teardown(name); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "lab %s is down\n", name)
			return nil
		},
	}

	execCmd := &cobra.Command{
		Use:   "exec NODE -- COMMAND [ARGS...]",
		Short: "Run a command in a node's network namespace",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if d := cmd.ArgsLenAtDash(); d != 1 {
				return errors.New("usage: monami lab exec NODE -- COMMAND [ARGS...]")
			}
			l, err := openLab()
			if err != nil {
				return err
			}
			defer l.Close()
			n, err := l.Node(args[0])
			if err != nil {
				return err
			}
			c := n.Command(context.Background(), args[1], args[2:]...)
			c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
			signal.Ignore(os.Interrupt) // the child gets ^C from the terminal
			err = c.Run()
			var ee *exec.ExitError
			if errors.As(err, &ee) && ee.ExitCode() > 0 {
				os.Exit(ee.ExitCode())
			}
			return err
		},
	}

	link := &cobra.Command{
		Use:   "link NODE:IF (up | down | set KEY=VALUE...)",
		Short: "Set a link end up or down, or change a link's impairment",
		Long: `link NODE:IF down        sets the interface administratively down (the peer loses carrier)
link NODE:IF up          sets it up again and re-installs its routes
link NODE:IF set rate=10mbit delay=20ms jitter=2ms loss=1%
                         changes the impairment of the link in both directions;
                         a value of 0 or none removes one; delay is one way.
link NODE:IF set dir=out rate=5mbit
                         changes only the traffic leaving NODE:IF (dir=in: arriving).`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			node, ifn, ok := strings.Cut(args[0], ":")
			if !ok || node == "" || ifn == "" {
				return fmt.Errorf("%q: want NODE:IF (e.g. mn:wlan0)", args[0])
			}
			l, err := openLab()
			if err != nil {
				return err
			}
			defer l.Close()
			switch args[1] {
			case "up", "down":
				if len(args) != 2 {
					return fmt.Errorf("link %s takes no further arguments", args[1])
				}
				return l.SetLink(node, ifn, args[1] == "up")
			case "set":
				if len(args) < 3 {
					return errors.New("link set needs KEY=VALUE settings (rate, delay, jitter, loss; dir=both|out|in)")
				}
				lk, err := l.FindLink(args[0])
				if err != nil {
					return err
				}
				cur, err := l.Impairment(args[0])
				if err != nil {
					return err
				}
				dir, settings := "both", []string{}
				for _, a := range args[2:] {
					if v, ok := strings.CutPrefix(a, "dir="); ok {
						dir = v
					} else {
						settings = append(settings, a)
					}
				}
				// out: traffic leaving NODE:IF; in: traffic arriving there.
				out, in := &cur.AtoB, &cur.BtoA
				if lk.B.Node == node && lk.B.If == ifn {
					out, in = in, out
				}
				var targets []*lab.Impairment
				switch dir {
				case "both":
					targets = []*lab.Impairment{out, in}
				case "out":
					targets = []*lab.Impairment{out}
				case "in":
					targets = []*lab.Impairment{in}
				default:
					return fmt.Errorf("dir=%s: want both, out (leaving %s) or in (arriving at %s)", dir, args[0], args[0])
				}
				for _, t := range targets {
					im, err := lab.ParseImpairment(*t, settings)
					if err != nil {
						return err
					}
					*t = im
				}
				if err := l.SetImpairments(args[0], cur); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", lk.Name, dirString(cur, lk.A.Node, lk.B.Node))
				return nil
			}
			return fmt.Errorf("unknown link action %q: want up, down or set", args[1])
		},
	}

	var asJSON bool
	status := &cobra.Command{
		Use:   "status [NAME]",
		Short: "Show nodes, links, impairments and processes of a lab",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := labName
			if len(args) == 1 {
				name = args[0]
			}
			if name == "" {
				names, err := lab.ListLabs()
				if err != nil {
					return err
				}
				if len(names) == 0 {
					fmt.Fprintln(cmd.OutOrStdout(), "no lab is up")
					return nil
				}
				if len(names) > 1 && !asJSON {
					for _, n := range names {
						if err := printStatus(cmd, n, false); err != nil {
							return err
						}
					}
					return nil
				}
				name = names[0]
			}
			return printStatus(cmd, name, asJSON)
		},
	}
	status.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	labCmd.AddCommand(up, down, execCmd, link, status)
}

func printStatus(cmd *cobra.Command, name string, asJSON bool) error {
	l, err := lab.Open(name)
	if err != nil {
		return err
	}
	defer l.Close()
	s, err := l.Status()
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if asJSON {
		e := json.NewEncoder(out)
		e.SetIndent("", "  ")
		return e.Encode(s)
	}
	fmt.Fprintf(out, "lab %s: %s (state %s)\n", s.Name, s.State, s.Dir)
	w := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NODE\tKIND\tNETNS\tPRESENT")
	for _, n := range s.Nodes {
		fmt.Fprintf(w, "%s\t%s\t%s\t%v\n", n.Name, n.Kind, n.Netns, n.Present)
	}
	w.Flush()
	fmt.Fprintln(out)
	w = tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "LINK\tEND\tADMIN\tOPER\tLOSS-DROPS\tADDRESSES\tIMPAIRMENT")
	for _, lk := range s.Links {
		for i, e := range lk.Ends {
			imp := ""
			if i == 0 {
				imp = dirString(lk.Impair, lk.Ends[0].Node, lk.Ends[1].Node)
				if lk.Relay {
					imp += " (relay)"
				}
			}
			fmt.Fprintf(w, "%s\t%s:%s\t%s\t%s\t%d\t%s\t%s\n", lk.Name, e.Node, e.If, e.Admin, e.Oper, e.Dropped, strings.Join(e.Addrs, ","), imp)
		}
	}
	w.Flush()
	if len(s.Processes)+len(s.Relays) > 0 {
		fmt.Fprintln(out)
		w = tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
		fmt.Fprintln(w, "PROCESS\tNODE\tPID\tRUNNING\tLOG\tCOMMAND")
		for _, p := range s.Processes {
			fmt.Fprintf(w, "%s\t%s\t%d\t%v\t%s\t%s\n", p.Name, p.Node, p.PID, p.Running, p.Log, strings.Join(p.Argv, " "))
		}
		for _, p := range s.Relays {
			fmt.Fprintf(w, "relay:%s\t-\t%d\t%v\t%s\t%s\n", p.Name, p.PID, p.Running, p.Log, "delay relay")
		}
		w.Flush()
	}
	return nil
}

// dirString shows a link's impairment with node names for the directions.
func dirString(d lab.DirImpairment, a, b string) string {
	if d.Symmetric() {
		return d.AtoB.String()
	}
	return fmt.Sprintf("%s->%s %s; %s->%s %s", a, b, d.AtoB, b, a, d.BtoA)
}

// pickLab returns name, or the only lab that is up when name is empty.
func pickLab(name string) (string, error) {
	if name != "" {
		return name, nil
	}
	names, err := lab.ListLabs()
	if err != nil {
		return "", err
	}
	switch len(names) {
	case 0:
		return "", errors.New("no lab is up")
	case 1:
		return names[0], nil
	}
	return "", fmt.Errorf("several labs are up (%s): name one with --lab", strings.Join(names, ", "))
}

func openLab() (*lab.Lab, error) {
	name, err := pickLab(labName)
	if err != nil {
		return nil, err
	}
	return lab.Open(name)
}
