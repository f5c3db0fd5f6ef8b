"""MuJoCo simulation: scenes, sensors, ground truth, gymnasium envs and the sim bridge.

Importing ``sim`` picks the headless GL backend before mujoco is imported (see sim.gl).
"""

from sim.gl import configure as _configure_gl

_configure_gl()
