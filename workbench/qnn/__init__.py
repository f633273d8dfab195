"""The `qnn-int/1` contract, its golden integer model and random valid networks."""
