// Package bench measures Weft's building blocks and prints tables that
// users can rerun on their own machines (weft bench ...). Every figure is
// measured in the same run as the baseline it is compared with, because
// shared machines are noisy.
package bench
