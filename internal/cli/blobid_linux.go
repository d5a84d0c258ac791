package cli

import "syscall"

const mapPopulate = syscall.MAP_POPULATE
