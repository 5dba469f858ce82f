"""Returns (RMA) processing platform."""
