package ctlapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Client reads a daemon's control API.
type Client struct {
	path string
	http *http.Client
}

// NewClient returns a client for the socket at path.
func NewClient(path string) *Client {
	return &Client{path: path, http: &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}},
	}}
}

// Get fetches a topic. The returned Raw holds the data undecoded so callers
// can print it in order or decode it into their own types.
func (c *Client) Get(ctx context.Context, topic string) (Response, json.RawMessage, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://monami/"+APIVersion+"/"+topic, nil)
	if err != nil {
		return Response{}, nil, err
	}
	return c.roundTrip(req, topic)
}

func (c *Client) roundTrip(req *http.Request, topic string) (Response, json.RawMessage, error) {
	res, err := c.http.Do(req)
	if err != nil {
		return Response{}, nil, fmt.Errorf("control socket %s: %w (is the daemon running?)", c.path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 256<<20))
	if err != nil {
		return Response{}, nil, fmt.Errorf("control API: %w", err)
	}
	var env struct {
		Response
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return Response{}, nil, fmt.Errorf("control API: bad answer: %w", err)
	}
	if env.Error != "" {
		return env.Response, nil, fmt.Errorf("%s: %s", topic, env.Error)
	}
	return env.Response, env.Data, nil
}
