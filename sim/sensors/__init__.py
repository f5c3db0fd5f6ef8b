"""Simulated sensors: cameras (RGB, depth, segmentation), point clouds, IMU, joint states,
and the event camera."""
