"""Ground truth from the simulator: poses and twists, dense optical flow, per-pixel and
per-point labels, and the scene's signed distance field."""
