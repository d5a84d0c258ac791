//go:build !amd64 || purego

package redstuff

func splitBlocks(dst, src []byte) { splitBlocksGeneric(dst, src) }
func joinBlocks(dst, src []byte)  { joinBlocksGeneric(dst, src) }
