"""The simulator's ROS face (the one place outside ``neuro_nodes/ros`` that imports rclpy:
DESIGN.md puts the sim bridge node in ``sim/``, and ``neuro_nodes`` never imports ``sim``)."""
