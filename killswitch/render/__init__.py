"""Renderers: values → text, JSON or diagram source. Nothing else in the package formats output."""
