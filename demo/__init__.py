"""The one-command demo: the whole pipeline in one process on embedded stand-ins."""
