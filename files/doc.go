// Package files holds the formats that tie blobs into files: the manifest
// of a file stored as segments (one blob each) and the index of a batch of
// small files packed into one blob. Both are blob contents, so they are
// content-addressed like any blob: a manifest's blob ID names its file,
// and a batch's blob ID with a file's name names that file.
//
// Both encodings start with a magic string and a version byte, use
// big-endian integers, refuse trailing bytes and truncation, and are
// fuzzed. The package is pure: it parses and builds bytes, nothing more.
package files
