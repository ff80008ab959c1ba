"""Budget markers: parsing, judging, the llm_calls view."""
