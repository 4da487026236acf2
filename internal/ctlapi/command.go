package ctlapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Commander is a Provider that also takes commands, the API's only
// writes (POST /v1/<command>, a JSON body): `monami ctl flow move`. The
// socket is root's alone (Listen), so whoever may connect may steer.
type Commander interface {
	// Commands lists the command names Command accepts.
	Commands() []string
	// Command runs one command and returns a JSON-marshalable answer.
	// Like Snapshot it is called from the HTTP server's goroutines.
	Command(ctx context.Context, name string, body json.RawMessage) (any, error)
}

var (
	// ErrUnknownCommand is returned by a Commander for a name it lacks.
	ErrUnknownCommand = errors.New("unknown command")
	// ErrBadRequest wraps an error in the command's input (HTTP 400).
	ErrBadRequest = errors.New("bad request")
)

// maxBody bounds a command's body.
const maxBody = 1 << 20

// DecodeBody decodes a command's JSON body into v; unknown fields are
// errors naming the field.
func DecodeBody(body json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	return nil
}

func (s *Server) serveCommand(w http.ResponseWriter, r *http.Request, p Provider) {
	name := strings.Trim(strings.TrimPrefix(r.URL.Path, "/"+APIVersion+"/"), "/")
	resp := Response{Role: p.Role(), Topic: name, Time: time.Now().UTC()}
	status := http.StatusOK
	c, ok := p.(Commander)
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	switch {
	case !ok:
		status, resp.Error = http.StatusNotFound, fmt.Sprintf("the %s daemon takes no commands", p.Role())
	case err != nil:
		status, resp.Error = http.StatusBadRequest, err.Error()
	case len(body) > maxBody:
		status, resp.Error = http.StatusRequestEntityTooLarge, "body too large"
	default:
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		data, err := c.Command(ctx, name, body)
		switch {
		case errors.Is(err, ErrUnknownCommand):
			cmds := append([]string(nil), c.Commands()...)
			sort.Strings(cmds)
			status, resp.Error = http.StatusNotFound, fmt.Sprintf("unknown command %q (have: %s)", name, strings.Join(cmds, ", "))
		case errors.Is(err, ErrBadRequest):
			status, resp.Error = http.StatusBadRequest, strings.TrimPrefix(err.Error(), ErrBadRequest.Error()+": ")
		case err != nil:
			status, resp.Error = http.StatusInternalServerError, err.Error()
		default:
			resp.Data = data
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(resp); err != nil {
		s.log.Debug("control API write", "err", err)
	}
}

// Do runs a command with body (marshalled to JSON) and returns the
// answer as Get does.
func (c *Client) Do(ctx context.Context, command string, body any) (Response, json.RawMessage, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return Response{}, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://monami/"+APIVersion+"/"+command, bytes.NewReader(b))
	if err != nil {
		return Response{}, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return c.roundTrip(req, command)
}
