"""Agents: a language agent per language (instructor and responder), the tester and the judge."""

from polyforge.agents.judge import JudgeAgent, Verdict
from polyforge.agents.language_agent import LanguageAgent, StageOutput
from polyforge.agents.tester import TesterAgent, code_block

__all__ = ["JudgeAgent", "LanguageAgent", "StageOutput", "TesterAgent", "Verdict", "code_block"]
