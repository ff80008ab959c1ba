"""The data every other part shares: calls, endpoints, SSE, prices, names, atomic writes."""
