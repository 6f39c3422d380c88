"""Whole runs: recipes (``recipe.py``) and the runner behind ``codeja run`` (``runner.py``)."""
