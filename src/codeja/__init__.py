"""codeja: build code LLMs that are strong in Japanese and in software development."""

__version__ = "0.1.0"
