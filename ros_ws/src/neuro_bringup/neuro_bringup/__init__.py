"""neuro_bringup: ROS 2 executables, launch files and configuration of neuro_nodes."""
