"""A tiny application that calls Groq, as a team would ship it."""
