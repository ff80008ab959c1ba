"""Seeing every LLM call: the capture point, the live tee, replay of a recorded response, scrubbing."""
