"""The latency model fitted from recorded calls, what-if predictions, lint."""
