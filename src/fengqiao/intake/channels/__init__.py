"""One module per channel: what its payload looks like and how it becomes an :class:`Incoming`."""
