// Package chain holds what Weft's control plane tells its clients about
// blobs: a blob ID's record and status, the attributes registered with
// it, and the errors the control plane answers with.
//
// The control plane is a replicated state machine (run by validators as a
// CometBFT chain). Its rejections reach a client as result codes and come
// back as errors that wrap the sentinels below, so that
//
//	errors.Is(err, chain.ErrEpoch)
//
// works in any program, however far from the validator the error was
// made. The package is pure data and imports nothing but the standard
// library and package blob: the SDK (package client) returns these types,
// and the servers build them.
package chain
