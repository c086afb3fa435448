"""Key poses: drawing format, extractors, Stable Diffusion, 2D-to-3D lifting, pose-to-token encoding."""
