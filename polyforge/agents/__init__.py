"""Agents: a language agent per language (instructor and responder) and the judge."""

from polyforge.agents.judge import JudgeAgent, Verdict
from polyforge.agents.language_agent import LanguageAgent, StageOutput

__all__ = ["JudgeAgent", "LanguageAgent", "StageOutput", "Verdict"]
