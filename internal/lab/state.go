package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// StateRoot holds one directory per running lab: state.json and logs.
// Tests may point it elsewhere.
var StateRoot = "/run/monami/lab"

// State is the on-disk record of everything a lab created. Each object is
// recorded (and the file synced) BEFORE it is created, so Teardown can remove
// all of it even after the creating process was killed.
type State struct {
	stateData

	mu   sync.Mutex
	path string
}

// stateData is the persisted part of State.
type stateData struct {
	Name       string    `json:"name"`
	Status     string    `json:"status"` // building, up, tearing-down
	Created    time.Time `json:"created"`
	BuilderPID int       `json:"builder_pid"`
	Topology   *Topology `json:"topology"`

	Namespaces []string       `json:"namespaces"`           // /run/netns names
	HostLinks  []string       `json:"host_links,omitempty"` // interfaces in the root namespace
	HostNft    []string       `json:"host_nft,omitempty"`   // nftables netdev tables in the root namespace
	HostSysctl []SysctlBackup `json:"host_sysctl,omitempty"`
	Relays     []ProcRecord   `json:"relays,omitempty"`
	Processes  []ProcRecord   `json:"processes,omitempty"`
	// Impair is the current impairment per link name (after SetImpairment).
	Impair map[string]DirImpairment `json:"impair,omitempty"`
	// AdminDown lists "node:if" interfaces set down with SetLink.
	AdminDown []string `json:"admin_down,omitempty"`
}

// ProcRecord is a process the lab started.
type ProcRecord struct {
	Name string   `json:"name"`
	Node string   `json:"node,omitempty"`
	Ns   string   `json:"ns"`
	PID  int      `json:"pid"` // 0 until started
	Log  string   `json:"log"`
	Argv []string `json:"argv"`
}

// SysctlBackup is a root-namespace sysctl to restore on teardown.
type SysctlBackup struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// StateDir returns the directory of the named lab.
func StateDir(name string) string { return filepath.Join(StateRoot, name) }

func statePath(name string) string { return filepath.Join(StateDir(name), "state.json") }

// ReadState loads the state of a running (or half-built) lab.
func ReadState(name string) (*State, error) {
	d, err := readStateData(statePath(name))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("lab %q is not up (no %s): %w", name, statePath(name), ErrNoLab)
		}
		return nil, err
	}
	return &State{stateData: *d, path: statePath(name)}, nil
}

func readStateData(path string) (*stateData, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var d stateData
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("%s: corrupt state: %w", path, err)
	}
	if d.Impair == nil {
		d.Impair = map[string]DirImpairment{}
	}
	return &d, nil
}

// ErrNoLab is returned when no lab of that name is up.
var ErrNoLab = errors.New("no such lab")

// ListLabs returns the names of labs with a state directory.
func ListLabs() ([]string, error) {
	ents, err := os.ReadDir(StateRoot)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if _, err := os.Stat(filepath.Join(StateRoot, e.Name(), "state.json")); err == nil {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// newState creates the lab's state directory; it fails if the lab exists.
func newState(t *Topology) (*State, error) {
	if err := os.MkdirAll(StateRoot, 0o755); err != nil {
		return nil, err
	}
	dir := StateDir(t.Name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("lab %q is already up or was not torn down (%s exists): run `monami lab down %s`", t.Name, dir, t.Name)
		}
		return nil, err
	}
	st := &State{stateData: stateData{
		Name: t.Name, Status: "building", Created: time.Now().UTC(), BuilderPID: os.Getpid(),
		Topology: t, Impair: map[string]DirImpairment{},
	}, path: statePath(t.Name)}
	for _, l := range t.Links {
		st.Impair[l.Name] = l.Directions()
	}
	if err := st.save(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return st, nil
}

// update applies fn and writes the state durably before returning. Under
// an flock it first reloads the file, so concurrent `monami lab` commands
// (link set, link down) do not undo each other's changes.
func (st *State) update(fn func(*State)) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	lf, err := os.OpenFile(filepath.Join(filepath.Dir(st.path), "state.lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer lf.Close()
	if err := unix.Flock(int(lf.Fd()), unix.LOCK_EX); err != nil {
		return err
	}
	if d, err := readStateData(st.path); err == nil {
		st.stateData = *d
	}
	fn(st)
	return st.saveLocked()
}

func (st *State) save() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.saveLocked()
}

func (st *State) saveLocked() error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := st.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, st.path); err != nil {
		return err
	}
	if testHookSaved != nil {
		testHookSaved(st)
	}
	return nil
}

// testHookSaved lets tests stop a build at a chosen point (crash tests).
var testHookSaved func(*State)
