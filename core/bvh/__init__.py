"""BVH files: reader, writer, and conversion between BVH skeletons and our 22-joint skeleton."""
