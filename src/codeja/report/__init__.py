"""The run report: ``codeja report RUN_DIR`` -> report.html (self-contained) and report.md."""
