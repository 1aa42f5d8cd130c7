"""Notebook 11: its world (``world.py``) and its exercise check (``check.py``)."""
