"""Tasks: temporal XOR, keyword-in-noise, and a user's own `.npz` data set."""
from sim.tasks.base import Dataset, Task

__all__ = ["Dataset", "Task"]
