"""Generation: text (and fixed tokens) -> tokens -> motion -> joints -> BVH."""
