package client

import "github.com/weftnet/weft/internal/control/rpc"

// SetBeforeCertify sets a function that runs between a store's uploads
// and its certificate.
func SetBeforeCertify(c *Client, fn func()) { c.beforeCertify = fn }

// SetSegmentStored sets a function StoreFile calls after each segment is
// stored, with its index and whether its slivers were uploaded.
func SetSegmentStored(o *FileOptions, fn func(i int, uploaded bool)) { o.segmentStored = fn }

// Control returns the client's control plane connection.
func Control(c *Client) *rpc.Client { return c.ctl }
