"""Tasks: temporal XOR, keyword-in-noise, and a user's own `.npz` data set."""
from sim.tasks.base import Dataset, Task
from sim.tasks.registry import TaskError, load_task
from sim.tasks.userdata import UserDataError

__all__ = ["Dataset", "Task", "TaskError", "UserDataError", "load_task"]
