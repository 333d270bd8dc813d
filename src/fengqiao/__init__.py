"""fengqiao (枫桥): an open platform for county comprehensive-governance centres (综治中心)."""

__version__ = "0.1.0"
