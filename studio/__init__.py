"""The KeyMask Studio desktop app (PyQt6 + pyqtgraph)."""
