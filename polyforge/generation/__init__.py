"""Orchestration: the LangGraph graph for one work item, and the campaign runner."""
