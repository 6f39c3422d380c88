"""Evaluation: benchmarks (registry), versioned sanitizers, sandboxed scoring, run manifests and comparisons.

Entry points: :func:`codeja.evaluate.runner.run_eval`, :func:`codeja.evaluate.runner.score_samples`,
:func:`codeja.evaluate.benchmarks.get_benchmark`, :func:`codeja.evaluate.sanitize.get_sanitizer`; CLI ``codeja eval``.
"""
