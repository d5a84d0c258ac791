package merkle_test

import (
	"fmt"

	"github.com/weftnet/weft/merkle"
)

func Example() {
	var leaves []merkle.Hash
	for _, s := range []string{"alpha", "beta", "gamma"} {
		leaves = append(leaves, merkle.Leaf([]byte(s)))
	}
	root := merkle.Root(leaves)
	fmt.Printf("root %x\n", root[:])

	// Prove that "gamma" is leaf 2 of the 3. The tree is padded to 4
	// leaves, so the proof has Depth(3) = 2 siblings.
	path, err := merkle.Path(leaves, 2)
	if err != nil {
		panic(err)
	}
	fmt.Println("siblings", len(path))
	fmt.Println("gamma at 2:", merkle.Verify(root, merkle.Leaf([]byte("gamma")), 2, 3, path))
	fmt.Println("gamma at 1:", merkle.Verify(root, merkle.Leaf([]byte("gamma")), 1, 3, path))
	fmt.Println("delta at 2:", merkle.Verify(root, merkle.Leaf([]byte("delta")), 2, 3, path))
	// Output:
	// root 1df8bdb7b561ecb84376b5a0a98a3183bb8ebe2d7d792f336402fe94d3ec9e10
	// siblings 2
	// gamma at 2: true
	// gamma at 1: false
	// delta at 2: false
}
