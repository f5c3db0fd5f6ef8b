"""Controllers (issue 11 onwards), pure and ROS-free: a pure-pursuit path follower."""
