"""Perception from events: egomotion and optical flow (pure, ROS-free).

Every estimator takes an :class:`~neuro_nodes.perception.types.EventWindow` and returns a
:class:`~neuro_nodes.perception.types.MotionEstimate`; nodes, ``neuro eval`` and tests call
the same code. See ``types.py`` for the contract and its conventions.
"""
