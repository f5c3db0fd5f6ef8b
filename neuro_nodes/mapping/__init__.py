"""Mapping from depth: online neural SDF and TSDF/ESDF baseline (issue 11), pure and ROS-free."""
