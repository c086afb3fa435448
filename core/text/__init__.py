"""Text encoders behind one interface: CLIP (local weights) and an offline sentence encoder."""
