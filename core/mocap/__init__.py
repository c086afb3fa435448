"""Motion capture import: ASF/AMC and BVH files from many rigs onto our 22-joint skeleton."""
