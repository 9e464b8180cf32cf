"""Spatial agent: a planner LLM that decomposes spatial questions into metric sub-queries."""
