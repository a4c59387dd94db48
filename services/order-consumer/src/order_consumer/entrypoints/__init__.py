"""Entrypoints: the FastAPI app (ops endpoints) that runs the consumer loop."""
