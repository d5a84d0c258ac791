package client

// SetBeforeCertify sets a function that runs between a store's uploads
// and its certificate.
func SetBeforeCertify(c *Client, fn func()) { c.beforeCertify = fn }
