"""diary: experiment tracking storage in the design of DearDiary.jl."""

__version__ = "0.1.0"
