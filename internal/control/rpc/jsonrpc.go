package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// The validator's API is CometBFT's JSON-RPC: calls are POSTed to the
// base URL, and committed transactions are pushed over a websocket at
// /websocket. Only the handful of methods the control plane needs are
// spoken here, with their answers bounded.

// Bounds on what the client reads from a validator.
const (
	// maxAnswer bounds a call's answer: the largest query page (10 000
	// blob records with attributes) or a transaction (control.MaxTxSize),
	// base64 inside JSON, fits with room to spare.
	maxAnswer = 64 << 20
	// maxEvent bounds one websocket message: a committed transaction
	// (base64) with its result and events.
	maxEvent = 16 << 20
	// maxErrorText is how much of an answer that is not JSON-RPC is kept.
	maxErrorText = 4 << 10
)

// Errors of the transport.
var (
	// ErrAnswerTooLarge means the validator answered with more bytes than
	// any answer to the call can have.
	ErrAnswerTooLarge = errors.New("rpc: control plane answer too large")
	// ErrRedirect means the validator answered with a redirect, which the
	// client does not follow.
	ErrRedirect = errors.New("rpc: control plane redirected")
)

// Error is an error answer of the JSON-RPC server (a failed call, not a
// rejected transaction: those come back as the state machine's errors).
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    string `json:"data"`
}

func (e *Error) Error() string {
	if e.Data != "" {
		return fmt.Sprintf("rpc: %s (%d): %s", e.Message, e.Code, e.Data)
	}
	return fmt.Sprintf("rpc: %s (%d)", e.Message, e.Code)
}

// baseURL turns a validator address (http, https, or CometBFT's tcp) into
// the HTTP URL calls are POSTed to.
func baseURL(addr string) (*url.URL, error) {
	u, err := url.Parse(addr)
	if err != nil {
		return nil, fmt.Errorf("rpc: control plane URL: %w", err)
	}
	switch u.Scheme {
	case "tcp":
		u.Scheme = "http"
	case "http", "https":
	default:
		return nil, fmt.Errorf("rpc: control plane URL %q: want http, https or tcp", addr)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("rpc: control plane URL %q has no host", addr)
	}
	return u, nil
}

// newHTTPClient returns a client that follows no redirect: a validator
// has no reason to send the client elsewhere.
func newHTTPClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			return fmt.Errorf("%w to %s", ErrRedirect, req.URL.Redacted())
		},
	}
}

type request struct {
	JSONRPC string `json:"jsonrpc"`
	ID      uint64 `json:"id"`
	Method  string `json:"method"`
	Params  any    `json:"params"`
}

type response struct {
	Result json.RawMessage `json:"result"`
	Error  *Error          `json:"error"`
}

// call invokes method with params and decodes its result into result.
func (c *Client) call(ctx context.Context, method string, params, result any) error {
	body, err := json.Marshal(request{JSONRPC: "2.0", ID: c.nextID.Add(1), Method: method, Params: params})
	if err != nil {
		return fmt.Errorf("rpc: %s: %w", method, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base.String(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("rpc: %s: %w", method, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("rpc: %s: %w", method, err)
	}
	defer resp.Body.Close()
	if resp.ContentLength > c.maxAnswer {
		return fmt.Errorf("%w: %s declares %d bytes, at most %d expected", ErrAnswerTooLarge, method, resp.ContentLength, c.maxAnswer)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, c.maxAnswer+1))
	if err != nil {
		return fmt.Errorf("rpc: %s: %w", method, err)
	}
	if int64(len(raw)) > c.maxAnswer {
		return fmt.Errorf("%w: %s sent more than %d bytes", ErrAnswerTooLarge, method, c.maxAnswer)
	}
	var r response
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("rpc: %s: HTTP %d: %q", method, resp.StatusCode, raw[:min(len(raw), maxErrorText)])
	}
	if r.Error != nil {
		return r.Error
	}
	if err := json.Unmarshal(r.Result, result); err != nil {
		return fmt.Errorf("rpc: %s: %w", method, err)
	}
	return nil
}

// number is an integer that CometBFT writes as a JSON string when it has
// 64 bits.
type number int64

func (n *number) UnmarshalJSON(b []byte) error {
	v, err := strconv.ParseInt(strings.Trim(string(b), `"`), 10, 64)
	*n = number(v)
	return err
}

// txResult is a committed transaction's outcome (ABCI ExecTxResult).
type txResult struct {
	Code   uint32 `json:"code"`
	Log    string `json:"log"`
	Events []struct {
		Type       string `json:"type"`
		Attributes []struct {
			Key   string `json:"key"`
			Value string `json:"value"`
		} `json:"attributes"`
	} `json:"events"`
}

// abciQuery asks the application (control.Query* paths).
func (c *Client) abciQuery(ctx context.Context, path string, data []byte) (code uint32, log string, value []byte, err error) {
	var r struct {
		Response struct {
			Code  uint32 `json:"code"`
			Log   string `json:"log"`
			Value []byte `json:"value"`
		} `json:"response"`
	}
	// data travels as hex (CometBFT's HexBytes).
	if err := c.call(ctx, "abci_query", map[string]any{"path": path, "data": fmt.Sprintf("%X", data)}, &r); err != nil {
		return 0, "", nil, err
	}
	return r.Response.Code, r.Response.Log, r.Response.Value, nil
}

// broadcastTxSync hands a transaction to the mempool and returns the
// admission check's result.
func (c *Client) broadcastTxSync(ctx context.Context, tx []byte) (code uint32, log string, err error) {
	var r struct {
		Code uint32 `json:"code"`
		Log  string `json:"log"`
	}
	if err := c.call(ctx, "broadcast_tx_sync", map[string]any{"tx": tx}, &r); err != nil {
		return 0, "", err
	}
	return r.Code, r.Log, nil
}

// tx looks a committed transaction up in the validator's index by hash.
func (c *Client) tx(ctx context.Context, hash []byte) (height int64, res txResult, err error) {
	var r struct {
		Height   number   `json:"height"`
		TxResult txResult `json:"tx_result"`
	}
	if err := c.call(ctx, "tx", map[string]any{"hash": hash, "prove": false}, &r); err != nil {
		return 0, txResult{}, err
	}
	return int64(r.Height), r.TxResult, nil
}

// committedTx is a transaction pushed by the subscription.
type committedTx struct {
	Height number   `json:"height"`
	Tx     []byte   `json:"tx"`
	Result txResult `json:"result"`
}

// subscribeTxs opens a websocket to the validator and subscribes to
// committed transactions. It returns once the subscription is accepted;
// fn then gets every committed transaction until the connection fails or
// ctx ends, and done is closed after the last.
func (c *Client) subscribeTxs(ctx context.Context, fn func(committedTx)) (done <-chan struct{}, err error) {
	ws := *c.base
	ws.Scheme = map[string]string{"http": "ws", "https": "wss"}[ws.Scheme]
	ws.Path = strings.TrimSuffix(ws.Path, "/") + "/websocket"
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	conn, resp, err := d.DialContext(ctx, ws.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("rpc: websocket: %w", err)
	}
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	conn.SetReadLimit(maxEvent)
	fail := func(err error) (<-chan struct{}, error) {
		conn.Close()
		return nil, fmt.Errorf("rpc: subscribe: %w", err)
	}
	id := c.nextID.Add(1)
	if err := conn.WriteJSON(request{JSONRPC: "2.0", ID: id, Method: "subscribe", Params: map[string]string{"query": "tm.event='Tx'"}}); err != nil {
		return fail(err)
	}
	// The first answer accepts or refuses the subscription.
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var first response
	if err := conn.ReadJSON(&first); err != nil {
		return fail(err)
	}
	if first.Error != nil {
		return fail(first.Error)
	}
	conn.SetReadDeadline(time.Time{})

	out := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
		case <-out:
		}
		conn.Close()
	}()
	go func() {
		defer close(out)
		for {
			var msg struct {
				Result *struct {
					Data struct {
						Type  string `json:"type"`
						Value struct {
							TxResult committedTx `json:"TxResult"`
						} `json:"value"`
					} `json:"data"`
				} `json:"result"`
				Error *Error `json:"error"`
			}
			if err := conn.ReadJSON(&msg); err != nil {
				var syntax *json.SyntaxError
				var typ *json.UnmarshalTypeError
				if errors.As(err, &syntax) || errors.As(err, &typ) {
					continue
				}
				return // the connection failed or was closed
			}
			if msg.Error != nil {
				return // the server cancelled the subscription
			}
			if msg.Result != nil && msg.Result.Data.Type == "tendermint/event/Tx" {
				fn(msg.Result.Data.Value.TxResult)
			}
		}
	}()
	return out, nil
}
